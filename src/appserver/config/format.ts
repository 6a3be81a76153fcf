/** What the four config readers (ini, xml, json, yaml) have in common. */
export type ConfigFormat = 'ini' | 'xml' | 'json' | 'yaml';

/** One `key = value` as written in a config file, before magic variables and placeholders. */
export interface FileEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

/**
 * Without `file:section`, a reader takes uWSGI's section (`[uwsgi]`, `<uwsgi>`, `"uwsgi"`) and
 * tsgi's own name for it, so a file can carry options for both servers or be renamed for tsgi.
 */
export const DEFAULT_SECTIONS: readonly string[] = ['uwsgi', 'tsgi'];

/** The section names a reader accepts: the one asked for, or the defaults. */
export function sectionsFor(asked: string | undefined): readonly string[] {
  return asked === undefined ? DEFAULT_SECTIONS : [asked];
}

/**
 * How a reader names a section in the "no such section" error: `[uwsgi] or [tsgi] section`.
 * Readers return null for a missing section and the loader, which knows who asked, throws.
 */
export function sectionLabel(template: string, asked: string | undefined): string {
  return sectionsFor(asked)
    .map((name) => template.replace('NAME', name))
    .join(' or ');
}

/** Config file extensions, as uWSGI's `uwsgi_opt_load` (core/uwsgi.c) recognises them. */
export function formatOfPath(path: string): ConfigFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.ini')) return 'ini';
  if (lower.endsWith('.xml')) return 'xml';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return undefined;
}
