/**
 * The responses the HTTP router writes itself (a worker that cannot answer, a request it cannot
 * forward) and the log line that goes with each. Both follow nginx, which is what users put in
 * front of uWSGI and what their monitoring already understands: the same small HTML pages, and
 * error lines in nginx's "<what> while <doing what>, client: ..., request: ..., upstream: ..."
 * form, so a harakiri'd request can be found by its request line.
 *
 * uWSGI's own router answers none of these: it closes the client connection without a response
 * (and logs nothing for a worker killed by harakiri). A client then cannot tell a dead worker from
 * a network failure, and a load balancer in front cannot retry on a status.
 */
import { reasonPhrase, type RequestHead } from '../../protocols/http1.js';

const pages = new Map<number, string>();

/** A complete response with an nginx-style HTML body (the head without Date and Connection). */
export function errorResponse(status: number, date: string, keepAlive: boolean): string {
  let body = pages.get(status);
  if (body === undefined) {
    const title = `${status} ${reasonPhrase(status)}`;
    body = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>tsgi</center>\r\n</body>\r\n</html>\r\n`;
    pages.set(status, body);
  }
  return (
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nDate: ${date}\r\nContent-Type: text/html\r\n` +
    `Content-Length: ${body.length}\r\nConnection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n${body}`
  );
}

/** `GET /path HTTP/1.1`, as nginx quotes the request in its error log. */
export function requestLine(head: RequestHead): string {
  return `${head.method} ${head.target} HTTP/1.${head.versionMinor}`;
}

/**
 * One error log line: `what` is nginx's first part ("upstream prematurely closed connection while
 * reading response header from upstream"), `status` what the client got (0: the connection was
 * closed because the response had already started).
 */
export function errorLogLine(what: string, client: string, head: RequestHead | null, upstream: string, status: number): string {
  const request = head === null ? '' : `, request: "${requestLine(head)}"`;
  const host = head === null || head.host === '' ? '' : `, host: "${head.host}"`;
  const outcome = status === 0 ? 'connection closed' : `${status} ${reasonPhrase(status)}`;
  return `tsgi http router: ${what}, client: ${client}${request}, upstream: "${upstream}"${host} -> ${outcome}`;
}
