/**
 * Named errors with stable codes (undici's `lib/core/errors.js` pattern): callers and tests match
 * on `code`, never on message text. Each subclass documents the one failure it stands for.
 */
export class TsgiError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
