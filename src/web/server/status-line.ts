/**
 * The status line nginx 1.22 writes (`ngx_http_status_lines` in
 * src/http/ngx_http_header_filter_module.c): its own reason phrases ("302 Moved Temporarily",
 * "503 Service Temporarily Unavailable"), and for a status it has no phrase for, the code and a
 * space ("HTTP/1.1 418 "). Checked code by code against /usr/sbin/nginx (`return CODE`).
 */

const PHRASES: ReadonlyMap<number, string> = new Map([
  [200, 'OK'],
  [201, 'Created'],
  [202, 'Accepted'],
  [204, 'No Content'],
  [206, 'Partial Content'],
  [301, 'Moved Permanently'],
  [302, 'Moved Temporarily'],
  [303, 'See Other'],
  [304, 'Not Modified'],
  [307, 'Temporary Redirect'],
  [308, 'Permanent Redirect'],
  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [402, 'Payment Required'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Not Allowed'],
  [406, 'Not Acceptable'],
  [408, 'Request Time-out'],
  [409, 'Conflict'],
  [410, 'Gone'],
  [411, 'Length Required'],
  [412, 'Precondition Failed'],
  [413, 'Request Entity Too Large'],
  [414, 'Request-URI Too Large'],
  [415, 'Unsupported Media Type'],
  [416, 'Requested Range Not Satisfiable'],
  [421, 'Misdirected Request'],
  [429, 'Too Many Requests'],
  [500, 'Internal Server Error'],
  [501, 'Not Implemented'],
  [502, 'Bad Gateway'],
  [503, 'Service Temporarily Unavailable'],
  [504, 'Gateway Time-out'],
  [505, 'HTTP Version Not Supported'],
  [507, 'Insufficient Storage'],
]);

const cache = new Map<number, string>();

/** `HTTP/1.1 404 Not Found\r\n`. nginx answers HTTP/1.0 clients with an HTTP/1.1 status line too. */
export function statusLine(status: number): string {
  let line = cache.get(status);
  if (line === undefined) {
    const phrase = PHRASES.get(status);
    line = phrase === undefined ? `HTTP/1.1 ${String(status).padStart(3, '0')} \r\n` : `HTTP/1.1 ${status} ${phrase}\r\n`;
    if (cache.size < 1000) cache.set(status, line);
  }
  return line;
}
