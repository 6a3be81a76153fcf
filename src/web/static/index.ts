/**
 * Static files as nginx 1.22 serves them: root and alias, try_files, index, autoindex, ETag and
 * Last-Modified, conditional requests, byte ranges, MIME types, expires and the default error
 * pages, with an open-file cache so that hot files cost no system call. Every behaviour is
 * checked against the real nginx by test/web/static.
 *
 *   const ctx = new StaticContext();                       // one per worker
 *   const conf = createStaticConf({ files: { kind: 'root', root: '/srv/www' }, types });
 *   let result = serveStatic(ctx, { method, uri, args, headers }, conf);
 *   if (result instanceof Promise) result = await result;  // only when the cache lacked something
 *   switch (result.kind) { case 'response': ... writeStaticBody(socket, result.body, { head }) }
 */
export {
  serveStatic,
  runTryFiles,
  type TryFilesOutcome,
  defaultPage,
  serializeHeaders,
  plainFilePath,
  preparedAnswer,
  type Prepared,
  StaticContext,
  StaticResolutionError,
  type StaticContextOptions,
  type PageIdentity,
} from './serve.js';
export {
  createStaticConf,
  StaticConfError,
  STATIC_DEFAULTS,
  type StaticConf,
  type StaticConfInput,
  type TryFiles,
  type TryFilesEntry,
  type IndexEntry,
} from './conf.js';
export { writeStaticBody, StaticWriteError, FILE_CHUNK_SIZE, type WriteOptions } from './writer.js';
export { FileCache, FILE_CACHE_DEFAULTS, type FileCacheOptions, type FileInfo, type FsErrorCode, type StatResult } from './file-cache.js';
export { parseMimeTypes, typesFromEntries, contentTypeFor, extenOf, MimeTypesError, NGINX_DEFAULT_TYPES, type MimeTypes } from './mime.js';
export { parseExpires, parseTime, expiresHeaders, ExpiresError, EXPIRES_OFF, EXPIRES_STATUSES } from './expires.js';
export {
  errorResponse,
  redirectResponse,
  errorPageBody,
  errorPageHead,
  errorPageStatus,
  userAgentKind,
  DEFAULT_SERVER_VERSION,
  type ErrorPageOptions,
} from './error-pages.js';
export { evaluatePreconditions, etagMatches, fileEtag, type PreconditionOutcome } from './conditional.js';
export { parseRange, ifRangeAllows, contentRange, multipartFraming, formatBoundary, type ByteRange, type RangeOutcome } from './ranges.js';
export { aliasPitfall, mapUriToPath, mapConfined, confinedPath, confinementBase, type AliasPitfall } from './paths.js';
export {
  renderAutoindex,
  sortEntries,
  jsonpCallback,
  escapeHtml,
  escapeUriComponent,
  escapeJson,
  type AutoindexEntry,
  type AutoindexOptions,
} from './autoindex.js';
export { httpDate, parseHttpDate, HttpDateCache, INVALID_DATE } from './http-date.js';
export type {
  Header,
  StaticRequest,
  StaticRequestHeaders,
  StaticResponse,
  StaticResult,
  StaticBody,
  FileSlice,
  BufferBody,
  FileMapping,
  Expires,
  ServerTokens,
  IfModifiedSinceMode,
  AutoindexFormat,
} from './types.js';
