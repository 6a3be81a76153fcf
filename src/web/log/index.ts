export { AccessLogWriter, createAccessLog, type AccessLogOptions, type Schedule } from './access-log.js';
export {
  ErrorLogWriter,
  LogOpenError,
  MAX_ERROR_LINE,
  createErrorLog,
  everyPerLocation,
  formatErrorLine,
  levelRank,
  openLogFile,
  requestFields,
  type ErrorLineFields,
  type ErrorLogOptions,
} from './error-log.js';
export { compileLogFormat, escapeDefault, escapeJson, type LogLine } from './format.js';
export { SyslogConfigError, SyslogSender, parseSyslogTarget, syslogHeader, syslogTime, type SyslogTarget } from './syslog.js';
export { TimeTexts, secondsWithMillis } from './time.js';
