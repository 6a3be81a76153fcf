/**
 * ngx_http_map_module: `map $source $variable { key value; ... }`, whose lines are data rather
 * than directives (nginx reads them with a custom handler, as it reads `types {}`).
 */
import type { Directive } from '../parser.js';
import { NginxConfigErrorCode } from '../errors.js';
import { isChangeable } from '../variables.js';
import type { MapConf } from '../types.js';
import { checkRegex } from './http-core.js';
import { Context, TAKE2, custom, fieldOf, type DirectiveContext, type DirectiveSpec } from './spec.js';
import { arg } from './setters.js';

function applyMap(d: Directive, cx: DirectiveContext): void {
  const source = arg(d, 0);
  cx.useVariables(d, source);
  const target = arg(d, 1);
  if (!target.startsWith('$')) throw cx.error(d, `invalid variable name "${target}"`);
  const variable = target.slice(1);
  if (!isChangeable(variable)) throw cx.error(d, `the duplicate "${variable}" variable`, NginxConfigErrorCode.Duplicate);
  cx.defineVariable(variable);
  const entries: { key: string; value: string }[] = [];
  const keys = new Set<string>();
  let defaultValue: string | null = null;
  let hostnames = false;
  let volatile = false;
  cx.evaluateBlock(d, cx.context, (frame) =>
    frame.setStatementHandler((line, inner) => {
      const words = [line.name, ...line.args];
      if (words.length === 1 && line.name === 'hostnames') {
        hostnames = true;
        return;
      }
      if (words.length === 1 && line.name === 'volatile') {
        volatile = true;
        return;
      }
      if (words.length !== 2) throw inner.error(line, 'invalid number of the map parameters', NginxConfigErrorCode.Arguments);
      if (line.name === 'include') {
        inner.evaluateIncluded(line);
        return;
      }
      const value = words[1]!;
      inner.useVariables(line, value);
      if (line.name === 'default') {
        if (defaultValue !== null) throw inner.error(line, 'duplicate default map parameter', NginxConfigErrorCode.Duplicate);
        defaultValue = value;
        return;
      }
      if (line.name.startsWith('~')) {
        const caseless = line.name.startsWith('~*');
        checkRegex(line, inner, line.name.slice(caseless ? 2 : 1), caseless);
        entries.push({ key: line.name, value });
        return;
      }
      const key = line.name.startsWith('\\') ? line.name.slice(1) : line.name;
      // nginx lower-cases the key in place before it finds the clash, and prints it so.
      if (keys.has(key.toLowerCase())) throw inner.error(line, `conflicting parameter "${key.toLowerCase()}"`, NginxConfigErrorCode.Duplicate);
      keys.add(key.toLowerCase());
      entries.push({ key, value });
    }),
  );
  const raw = cx.raw('http');
  const map: MapConf = {
    source,
    variable,
    default: defaultValue ?? '',
    hostnames,
    volatile,
    entries,
    position: { file: d.file, line: d.line },
  };
  raw.maps = [...(raw.maps ?? []), map];
}

export const MAP_DIRECTIVES: readonly DirectiveSpec[] = [
  custom('map', Context.Http, TAKE2, applyMap, {
    block: true,
    help: 'a variable whose value depends on another',
    slots: [fieldOf('http', 'maps', [])],
  }),
];
