/** The nginx.conf reader of `tsgi web`: see load.ts for the entry points and types.ts for the result. */
export { loadNginxConfig, loadNginxConfigText, checkConfig, shippedConfDir, type LoadOptions, type CheckResult } from './load.js';
export { NginxConfigError, NginxConfigErrorCode, type ConfigWarning } from './errors.js';
export { parseConfigFile, parseConfigText, type Directive, type ConfigFile } from './parser.js';
export { Lexer, tokenize, LexState, type Token } from './lexer.js';
export { DIRECTIVES, DIRECTIVES_BY_NAME, Context, contextNames, argsNotation } from './directives.js';
export type * from './types.js';
