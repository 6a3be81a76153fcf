/**
 * Pure request matchers of `tsgi web`: which server, which location, and the $uri they match on.
 * No I/O; every function here behaves as the nginx 1.22 code it names and is checked against the
 * real nginx by test/web/match.
 */
export { parseRequestTarget, type RequestTarget, type TargetResult, type NormalizeOptions } from './normalize.js';
export { validateHost, asciiLowerCase } from './host.js';
export {
  buildLocationMatcher,
  parseLocationArgs,
  locationName,
  autoRedirectTarget,
  LocationError,
  type LocationDef,
  type LocationMatch,
  type LocationMatcher,
  type LocationModifier,
} from './location.js';
export {
  buildServerSelector,
  ServerNameError,
  type ServerDef,
  type ServerSelection,
  type ServerSelector,
  type ServerSelectorOptions,
} from './server-name.js';
export { compileRegex, execRegex, RegexError, NO_CAPTURES, type CompiledRegex, type Captures, type CompileOptions } from './pcre.js';
export { textToBytes, bytesToText, isByteString } from './bytes.js';
