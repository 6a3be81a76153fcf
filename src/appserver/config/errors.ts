/**
 * Config errors, one class per failure with a stable code (undici's errors.js pattern). Each names
 * the option or file at fault and ends with where it was written (` in FILE:LINE` or ` on the
 * command line`), as nginx's `-t` messages do. Command-line mistakes found while scanning argv are
 * `UsageError`s (src/cli/options.ts) instead, because the CLI maps those to exit status 2.
 */
import { TsgiError } from '../../errors.js';
import type { ValueSource } from '../../cli/options.js';

/** Base class: every config error knows where the offending text was written, when it can. */
export class ConfigError extends TsgiError {
  constructor(
    code: string,
    message: string,
    readonly source?: ValueSource,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A key in a config file that is neither an option nor a placeholder that `%(name)` uses. */
export class UnknownOptionError extends ConfigError {
  constructor(
    message: string,
    readonly option: string,
    source: ValueSource,
    readonly suggestion?: string,
  ) {
    super('ERR_CONFIG_UNKNOWN_OPTION', message, source);
  }
}

/** A value that does not fit its option's type or choices. */
export class BadOptionValueError extends ConfigError {
  constructor(
    message: string,
    readonly option: string,
    source: ValueSource,
  ) {
    super('ERR_CONFIG_BAD_VALUE', message, source);
  }
}

/** The text of a config file does not parse (malformed section header, unclosed tag, bad JSON). */
export class ConfigSyntaxError extends ConfigError {
  constructor(message: string, source: ValueSource) {
    super('ERR_CONFIG_SYNTAX', message, source);
  }
}

/** A config file (or an `@(file)`) that cannot be read. */
export class ConfigReadError extends ConfigError {
  constructor(message: string, source: ValueSource, cause: unknown) {
    super('ERR_CONFIG_READ', message, source, { cause });
  }
}

/** The requested section (`[uwsgi]`, `file.ini:name`, `<uwsgi id="name">`) is not in the file. */
export class ConfigSectionError extends ConfigError {
  constructor(message: string, source: ValueSource) {
    super('ERR_CONFIG_SECTION', message, source);
  }
}

/** A config file that includes itself, directly or through others. */
export class ConfigIncludeLoopError extends ConfigError {
  constructor(
    message: string,
    source: ValueSource,
    readonly chain: readonly string[],
  ) {
    super('ERR_CONFIG_INCLUDE_LOOP', message, source);
  }
}

/** A bad magic variable (`%z`), a placeholder that refers to itself, or a bad `set-placeholder`. */
export class PlaceholderError extends ConfigError {
  constructor(message: string, source: ValueSource) {
    super('ERR_CONFIG_PLACEHOLDER', message, source);
  }
}
