/**
 * The time texts nginx writes in logs and variables (src/core/ngx_times.c, nginx 1.22), in the
 * local time zone as nginx takes it from localtime(3) (Node follows TZ the same way):
 *
 *   text              example                      used by
 *   httpLogTime       22/Nov/2026:01:02:40 +0100   $time_local, the `combined` format
 *   iso8601           2026-11-22T01:02:40+01:00    $time_iso8601
 *   errorLogTime      2026/11/22 01:02:40          the start of every error log line
 *   msec              1795309360.123               $msec (seconds.milliseconds, not local)
 *
 * nginx formats these once a second (ngx_time_update) and copies the cached text; `TimeTexts`
 * does the same per instance, so a busy access log does not format a date per request.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const MS_PER_SECOND = 1000;
const MINUTES_PER_HOUR = 60;

const pad2 = (n: number): string => (n < 10 ? '0' + n : String(n));
const pad3 = (n: number): string => (n < 10 ? '00' + n : n < 100 ? '0' + n : String(n));

/** The three local-time texts of one second. */
interface SecondTexts {
  readonly httpLog: string;
  readonly iso8601: string;
  readonly errorLog: string;
}

function formatSecond(second: number): SecondTexts {
  const d = new Date(second * MS_PER_SECOND);
  const year = d.getFullYear();
  const month = d.getMonth();
  const day = pad2(d.getDate());
  const clock = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  // getTimezoneOffset is UTC minus local; nginx prints local minus UTC (tm_gmtoff).
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const hours = pad2(Math.floor(Math.abs(offset) / MINUTES_PER_HOUR));
  const minutes = pad2(Math.abs(offset) % MINUTES_PER_HOUR);
  return {
    httpLog: `${day}/${MONTHS[month]}/${year}:${clock} ${sign}${hours}${minutes}`,
    iso8601: `${year}-${pad2(month + 1)}-${day}T${clock}${sign}${hours}:${minutes}`,
    errorLog: `${year}/${pad2(month + 1)}/${day} ${clock}`,
  };
}

/** Formats times as nginx does, remembering the last second formatted. Not shared between owners. */
export class TimeTexts {
  private second = Number.NaN;
  private texts: SecondTexts = { httpLog: '', iso8601: '', errorLog: '' };

  private at(ms: number): SecondTexts {
    const second = Math.floor(ms / MS_PER_SECOND);
    if (second !== this.second) {
      this.second = second;
      this.texts = formatSecond(second);
    }
    return this.texts;
  }

  /** `$time_local`: "22/Nov/2026:01:02:40 +0000". */
  httpLogTime(ms: number): string {
    return this.at(ms).httpLog;
  }

  /** `$time_iso8601`: "2026-11-22T01:02:40+00:00". */
  iso8601(ms: number): string {
    return this.at(ms).iso8601;
  }

  /** The error log's "2026/11/22 01:02:40". */
  errorLogTime(ms: number): string {
    return this.at(ms).errorLog;
  }
}

/** nginx's "%T.%03M": whole seconds, a dot, milliseconds ($msec, $request_time). */
export function secondsWithMillis(ms: number): string {
  const whole = Math.max(0, Math.floor(ms));
  return `${Math.floor(whole / MS_PER_SECOND)}.${pad3(whole % MS_PER_SECOND)}`;
}
