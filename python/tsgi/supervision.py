"""What a worker under the master runs beside its request threads: the counters, the reporter
on the master's channel, the request log and the harakiri watchdog, wired from the options
(--report-fd, --report-interval, --harakiri, --max-requests, --reload-on-rss, --request-log)."""
from .accounting import Accounting
from .harakiri import Watchdog
from .log import log, prefix
from .reporter import Channel, Reporter
from .request_log import RequestLog, logs_anything


def make_accounting(options):
    """The counters, or None when nobody reads them (no channel, no request log, no harakiri)."""
    log_settings = options.request_log
    logging = log_settings is not None and logs_anything(log_settings)
    if options.report_fd is None and not logging and options.harakiri is None:
        return None
    return Accounting(options.threads, count_request_vars=logging)


def start_supervision(options, accounting, server, startup_time):
    """Starts the reporter and the watchdog, and hooks the request log and --max-requests into
    the end of every request."""
    if accounting is None:
        return
    channel = Channel(options.report_fd) if options.report_fd is not None else None
    reporter = None
    if channel is not None:
        reporter = Reporter(channel, accounting, server, options.report_interval / 1000.0, options.max_requests, options.reload_on_rss, startup_time)
    request_log = None
    log_settings = options.request_log
    if log_settings is not None and logs_anything(log_settings):
        try:
            request_log = RequestLog(log_settings, options.worker_id, (lambda: reporter.other_requests) if reporter is not None else (lambda: 0))
        except OSError as error:
            log('%s: cannot open the request log %s: %s' % (prefix(), log_settings.get('file'), error))
        if reporter is not None and request_log is not None:
            reporter.on_reopen = request_log.reopen
    write_line = request_log.write if request_log is not None else None
    on_finished = reporter.on_request_finished if reporter is not None and reporter.max_requests is not None else None
    if write_line is not None and on_finished is not None:
        def finished(core, environ, response, seconds, failed, count):
            write_line(core, environ, response, seconds, failed, count)
            on_finished(count)
        accounting.on_finished = finished
    elif write_line is not None:
        accounting.on_finished = write_line
    elif on_finished is not None:
        accounting.on_finished = lambda core, environ, response, seconds, failed, count: on_finished(count)
    if reporter is not None:
        reporter.start()
    if options.harakiri is not None:
        Watchdog(accounting, options.harakiri, options.worker_id, channel).start()
