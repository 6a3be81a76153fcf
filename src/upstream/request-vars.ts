/**
 * A request as the protocol encoders want it: flat vars whose CONTENT_LENGTH agrees with the body
 * that will follow. uwsgi and SCGI frame the body by that number alone, so a wrong one makes the
 * peer read the next bytes as a request or wait forever; it is checked here, before anything is
 * sent, instead of being trusted.
 */
import { UpstreamError } from './errors.js';
import type { UpstreamRequest } from './types.js';

const CONTENT_LENGTH = 'CONTENT_LENGTH';
const REQUEST_METHOD = 'REQUEST_METHOD';
const DIGITS = /^\d+$/;

export interface PreparedRequest {
  /** Flat [name, value, ...]; CONTENT_LENGTH set when the length is known and not zero. */
  vars: string[];
  /** Body bytes that will follow; null when unknown (a FastCGI stream). */
  contentLength: number | null;
  /** REQUEST_METHOD ('' if absent): a HEAD response has no body whatever it announces. */
  method: string;
}

/** Throws UpstreamError ERR_UPSTREAM_INVALID_REQUEST (phase 'sending request': nothing sent yet). */
export function prepareRequest(request: UpstreamRequest, peer: string, lengthRequired: boolean): PreparedRequest {
  const invalid = (why: string): UpstreamError => new UpstreamError('ERR_UPSTREAM_INVALID_REQUEST', why, 'sending request', peer);
  const vars = flatten(request.vars);
  if (vars === null) throw invalid('a flat vars array needs an even length');

  const { body, contentLength } = request;
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) {
    throw invalid(`contentLength must be a non-negative integer, got ${String(contentLength)}`);
  }
  let length: number | null;
  if (body === undefined) {
    if (contentLength !== undefined && contentLength !== 0) throw invalid(`contentLength is ${contentLength} but there is no body`);
    length = 0;
  } else if (Buffer.isBuffer(body)) {
    if (contentLength !== undefined && contentLength !== body.length) {
      throw invalid(`contentLength is ${contentLength} but the body has ${body.length} bytes`);
    }
    length = body.length;
  } else {
    length = contentLength ?? null;
  }

  let method = '';
  let lengthAt = -1;
  for (let i = 0; i < vars.length; i += 2) {
    if (vars[i] === REQUEST_METHOD) method = vars[i + 1];
    else if (vars[i] === CONTENT_LENGTH) {
      if (lengthAt >= 0) throw invalid('CONTENT_LENGTH is given twice');
      lengthAt = i;
    }
  }
  const given = lengthAt >= 0 ? vars[lengthAt + 1] : '';
  if (given !== '') {
    if (!DIGITS.test(given)) throw invalid(`CONTENT_LENGTH ${JSON.stringify(given)} is not a decimal number`);
    if (length === null) length = Number(given);
    else if (Number(given) !== length) throw invalid(`CONTENT_LENGTH is ${given} but the body has ${length} bytes`);
  } else if (length !== null && length > 0) {
    if (lengthAt >= 0) vars[lengthAt + 1] = String(length);
    else vars.push(CONTENT_LENGTH, String(length));
  }
  if (length === null && lengthRequired) {
    throw invalid('a request body of unknown length cannot be framed: give contentLength or CONTENT_LENGTH');
  }
  return { vars, contentLength: length, method };
}

/** A copy as flat [name, value, ...] (the caller's array is never changed); null for odd length. */
function flatten(vars: UpstreamRequest['vars']): string[] | null {
  const out: string[] = [];
  for (const item of vars) {
    if (typeof item === 'string') out.push(item);
    else out.push(item[0], item[1]);
  }
  return out.length % 2 === 0 ? out : null;
}
