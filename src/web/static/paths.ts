/**
 * $uri → file path (ngx_http_map_uri_to_path, nginx 1.22) and the one way out of the document
 * root that nginx allows.
 *
 *   mapping                                      $uri               path
 *   root /srv/www                                /a/b.txt           /srv/www/a/b.txt
 *   location /img/ { alias /data/images/; }      /img/x.png         /data/images/x.png
 *   location /i    { alias /data/images/; }      /i../secret.txt    /data/images/../secret.txt  ← the pitfall
 *   location /i    { alias /data/images;  }      /i-private/x       /data/images-private/x      ← a sibling
 *   location ~ ^/d/(.+)$ { alias /data/$1; }     /d/a               /data/a (the expanded alias)
 *
 * $uri never holds a ".." segment (parseRequestTarget resolves them), so a root mapping cannot
 * leave the root. An alias can: the location name is cut off the front of $uri, and what is left
 * need not start with '/'. "/i.." matches `location /i`, leaves "..", and alias "/data/images/"
 * turns that into the parent directory. nginx serves it; tsgi does too, for compatibility, and
 * `aliasPitfall` lets the configuration check warn about it (as gixy's alias_traversal does).
 *
 * Everything else stays confined: `confinedPath` refuses a path that climbs above its base, which
 * only try_files arguments with request-controlled variables could produce (nginx would serve
 * those; tsgi answers as if the file did not exist).
 */
import type { FileMapping } from './types.js';

const SLASH = 0x2f;

/**
 * The file path for $uri. With `addUriToAlias` (a try_files match in a regex location with
 * alias), $uri is appended to the alias as nginx's r->add_uri_to_alias does.
 */
export function mapUriToPath(uri: string, mapping: FileMapping, addUriToAlias = false): string {
  switch (mapping.kind) {
    case 'root':
      return mapping.root + uri;
    case 'alias':
      return mapping.alias + uri.slice(mapping.location.length);
    case 'regexAlias':
      return addUriToAlias ? mapping.alias + uri : mapping.alias;
  }
}

/**
 * mapUriToPath and confinedPath in one, with a shortcut for the usual case: the part of $uri
 * appended to the root or alias has no "/." and does not start with '.', so the path cannot
 * climb out and needs no resolving.
 */
export function mapConfined(uri: string, mapping: FileMapping, base: string, addUriToAlias = false): string | null {
  const path = mapUriToPath(uri, mapping, addUriToAlias);
  const tail = mapping.kind === 'root' ? uri : mapping.kind === 'alias' ? uri.slice(mapping.location.length) : addUriToAlias ? uri : '';
  if (tail.charCodeAt(0) !== DOT && !tail.includes('/.') && (mapping.kind !== 'regexAlias' || !mapping.alias.includes('/.'))) return path;
  return confinedPath(path, base);
}

const DOT = 0x2e;

/** The directory every path of the mapping should stay in: the root, or the alias. */
export function mappingBase(mapping: FileMapping): string {
  return mapping.kind === 'root' ? mapping.root : mapping.alias;
}

/** The length of $uri that maps to the alias: nginx's clcf->alias (0 for root). */
export function aliasLength(mapping: FileMapping): number {
  return mapping.kind === 'alias' ? mapping.location.length : 0;
}

export interface AliasPitfall {
  /** 'traversal': "/i.." reaches the alias's parent. 'sibling': "/i-x" reaches "/data/images-x". */
  readonly kind: 'traversal' | 'sibling';
  readonly message: string;
}

/**
 * nginx's alias pitfall, for the configuration check: a prefix location whose name does not end
 * in '/' holding an alias. With an alias ending in '/', "prefix.." is the alias's parent
 * (traversal); without, "prefix-other/..." reaches sibling directories of the alias. Exact (`=`)
 * and regex locations are not affected: pass only prefix locations' names.
 */
export function aliasPitfall(locationPrefix: string, alias: string): AliasPitfall | null {
  if (locationPrefix.length === 0 || locationPrefix.charCodeAt(locationPrefix.length - 1) === SLASH) return null;
  if (alias.length > 0 && alias.charCodeAt(alias.length - 1) === SLASH) {
    return {
      kind: 'traversal',
      message:
        `"alias ${alias}" in location "${locationPrefix}" lets "${locationPrefix}../" reach the parent directory ` +
        'of the alias; end the location name with "/"',
    };
  }
  return {
    kind: 'sibling',
    message:
      `"alias ${alias}" in location "${locationPrefix}" lets "${locationPrefix}<name>" reach "${alias}<name>"; ` +
      'end both the location name and the alias with "/"',
  };
}

/**
 * The lexically resolved form of `path` when it stays inside `base` (or is `base`), else null.
 * Symlinks are not looked at: nginx follows them by default (disable_symlinks off), and so does
 * tsgi; this only keeps "../" out. A path without "/." in it is returned as it is.
 */
export function confinedPath(path: string, base: string): string | null {
  if (!path.includes('/.')) return path.startsWith(base) || path + '/' === base ? path : null;
  const resolved = resolveDots(path);
  const normalizedBase = resolveDots(base);
  if (resolved === normalizedBase || normalizedBase === '/') return path;
  return resolved.startsWith(normalizedBase + '/') ? path : null;
}

/**
 * The base that confines a mapping: its root or alias, except that an alias with nginx's
 * traversal pitfall may reach one level up (the alias's parent), as nginx lets it.
 */
export function confinementBase(mapping: FileMapping): string {
  if (mapping.kind === 'alias' && aliasPitfall(mapping.location, mapping.alias)?.kind === 'traversal') {
    const trimmed = mapping.alias.slice(0, -1);
    return trimmed.slice(0, trimmed.lastIndexOf('/') + 1);
  }
  return mappingBase(mapping);
}

/** Resolves "." and ".." segments of an absolute path (no trailing slash), as the kernel would without symlinks. */
function resolveDots(path: string): string {
  const out: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return '/' + out.join('/');
}
