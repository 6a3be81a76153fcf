/**
 * The implementations the location conformance table runs against: tsgi's matcher and the
 * reference port (both behind the same normalisation), and the real nginx.
 */
import { textToBytes } from '../../../src/web/match/bytes.js';
import { autoRedirectTarget, buildLocationMatcher, type LocationDef, type LocationMatch } from '../../../src/web/match/location.js';
import { parseRequestTarget } from '../../../src/web/match/normalize.js';
import type { Captures } from '../../../src/web/match/pcre.js';
import type { LocationCaseGroup, LocationImplementation, LocationOutcome, LocationSpec } from './location.case.js';
import { confString, nginx, startOracle } from './nginx-oracle.js';
import { referenceLocationMatcher } from './reference.js';

/** The table's specs as the matcher's input; the id carries the spec for building bodies. */
export function toDefs(specs: readonly LocationSpec[]): LocationDef<LocationSpec>[] {
  return specs.map((spec) => ({
    modifier: spec.modifier,
    pattern: spec.pattern,
    upstreamPass: spec.pass ?? false,
    id: spec,
    children: toDefs(spec.children ?? []),
  }));
}

function capture(captures: Captures, name: string): string {
  return /^\d+$/.test(name) ? (captures.groups[Number(name)] ?? '') : (captures.named[name] ?? '');
}

/** What `tsgi web` will answer, from the pure parts: normalise, match, redirect or run. */
export function outcomeOf(match: LocationMatch<LocationSpec> | null, args: string): LocationOutcome {
  if (match === null) return { kind: 'none' };
  const redirect = autoRedirectTarget(match, args);
  if (redirect !== null) return { kind: 'redirect', location: redirect };
  const spec = match.location.id;
  return { kind: 'body', body: [spec.id, ...(spec.echo ?? []).map((name) => capture(match.captures, name))].join('|') };
}

export function pureImplementation(
  name: string,
  build: (defs: LocationDef<LocationSpec>[]) => { match(uri: string): LocationMatch<LocationSpec> | null },
): LocationImplementation {
  return {
    name,
    async load(group) {
      const matcher = build(toDefs(group.locations));
      return {
        async resolve(target) {
          const parsed = parseRequestTarget(textToBytes(target), { mergeSlashes: group.mergeSlashes ?? true });
          if (!parsed.ok) return { kind: 'status', status: parsed.status };
          return outcomeOf(matcher.match(parsed.target.uri), parsed.target.args);
        },
        async close() {},
      };
    },
  };
}

/** nginx.conf for a table group: each location returns its id and captures; *_pass ones proxy. */
export function nginxServers(group: Pick<LocationCaseGroup, 'locations' | 'mergeSlashes'>): string {
  const block = (spec: LocationSpec): string => {
    const head = spec.modifier === '@' ? `location @${spec.pattern}` : `location ${spec.modifier} ${confString(textToBytes(spec.pattern))}`;
    const body = [spec.id, ...(spec.echo ?? []).map((name) => '$' + name)].join('|');
    const content = spec.pass
      ? `proxy_pass http://unix:DIR/back.sock:; proxy_set_header X-Location ${confString(body)};`
      : `return 200 ${confString(body)};`;
    return `${head} { ${content} ${(spec.children ?? []).map(block).join(' ')} }`;
  };
  return `
server {
  listen 127.0.0.1:PORT;
  root DIR/missing;
  merge_slashes ${group.mergeSlashes === false ? 'off' : 'on'};
  ${group.locations.map(block).join('\n  ')}
}
server { listen unix:DIR/back.sock; return 200 $http_x_location; }
`;
}

export const nginxImplementation: LocationImplementation = {
  name: 'nginx',
  ...('skip' in nginx ? { skip: nginx.skip } : {}),
  async load(group) {
    if (!('path' in nginx)) throw new Error('nginx is not installed');
    const oracle = await startOracle(nginx.path, nginxServers(group));
    return {
      async resolve(target) {
        const response = await oracle.request(`GET ${textToBytes(target)} HTTP/1.0\r\n\r\n`);
        if (response.status === 200) return { kind: 'body', body: response.body };
        if (response.status === 301) return { kind: 'redirect', location: response.location ?? '' };
        if (response.status === 404) return { kind: 'none' };
        return { kind: 'status', status: response.status };
      },
      close: () => oracle.stop(),
    };
  },
};

export const tsgiImplementation = pureImplementation('tsgi', buildLocationMatcher);
export const referenceImplementation = pureImplementation('reference (nginx tree port)', referenceLocationMatcher);
