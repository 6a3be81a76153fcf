/**
 * uWSGI's `--static-map /prefix=DIR`: requests whose PATH_INFO starts with the prefix are answered
 * from DIR when the file exists, before the application sees them; anything else (a missing file,
 * a directory, a method other than GET/HEAD) falls through to the application, as in uWSGI.
 * Files stream in 1 MiB reads; If-Modified-Since gets a 304.
 */
import { createReadStream, readFileSync, statSync, type Stats } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { App, Body, Environ } from '../gateway/types.js';
import { shippedConfDir } from '../web/config/load.js';
import { contentTypeFor, extenOf, NGINX_DEFAULT_TYPES, parseMimeTypes, type MimeTypes } from '../web/static/mime.js';

import type { StaticMapping } from './app-composition.js';

export { parseStaticMapping, type StaticMapping } from './app-composition.js';

const READ_CHUNK = 1024 * 1024;

/** The MIME types of the shipped mime.types (Debian's), or nginx's built-in few if it is missing. */
export function shippedMimeTypes(): MimeTypes {
  const dir = shippedConfDir();
  if (dir === null) return NGINX_DEFAULT_TYPES;
  try {
    return parseMimeTypes(readFileSync(join(dir, 'mime.types'), 'utf8'));
  } catch {
    return NGINX_DEFAULT_TYPES;
  }
}


function fileFor(mapping: StaticMapping, path: string): string | null {
  if (!path.startsWith(mapping.prefix)) return null;
  const file = resolve(mapping.dir, `.${path.slice(mapping.prefix.length).startsWith('/') ? '' : '/'}${path.slice(mapping.prefix.length)}`);
  // A request may not climb out of DIR (`/static/../../etc/passwd`).
  return file === mapping.dir || file.startsWith(mapping.dir + sep) ? file : null;
}

function fileBody(file: string): Body {
  let stream: ReturnType<typeof createReadStream> | null = null;
  return {
    async *[Symbol.asyncIterator]() {
      stream = createReadStream(file, { highWaterMark: READ_CHUNK });
      for await (const chunk of stream) yield chunk as Buffer;
    },
    close() {
      stream?.destroy();
    },
  };
}

export function staticMap(mappings: readonly StaticMapping[], app: App, types: MimeTypes = shippedMimeTypes()): App {
  if (mappings.length === 0) return app;
  return (environ: Environ, startResponse) => {
    const method = environ.REQUEST_METHOD;
    if (method === 'GET' || method === 'HEAD') {
      const path = environ.PATH_INFO;
      for (const mapping of mappings) {
        const file = fileFor(mapping, path);
        if (file === null) continue;
        let stats: Stats;
        try {
          stats = statSync(file);
        } catch {
          continue; // not there: uWSGI tries the next mapping, then the application
        }
        if (!stats.isFile()) continue;
        const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000).toUTCString();
        const since = environ.HTTP_IF_MODIFIED_SINCE;
        if (since !== undefined && Date.parse(since) >= Math.floor(stats.mtimeMs / 1000) * 1000) {
          startResponse('304 Not Modified', [['Last-Modified', lastModified]]);
          return [];
        }
        startResponse('200 OK', [
          ['Content-Type', contentTypeFor(extenOf(path), types, 'application/octet-stream')],
          ['Content-Length', String(stats.size)],
          ['Last-Modified', lastModified],
        ]);
        return method === 'HEAD' ? [] : fileBody(file);
      }
    }
    return app(environ, startResponse);
  };
}
