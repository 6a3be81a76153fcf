"""The worker's channel to the master (the Python side of src/appserver/worker-protocol.ts).

The master passes a socket as --report-fd (fd 4). The worker writes newline-delimited JSON
messages of exactly the shapes a JS worker sends over its IPC channel (`report`, `retire`) and
the harakiri note; the master writes back `totals` (the request log's `req: N/TOTAL`) and
`reopen-logs`. One thread does both: it waits for the master's lines until the next report is
due, so the request threads never touch the channel except for the one `retire` message.
"""
import json
import os
import select
import threading
import time

#: /proc/self/statm counts pages
_PAGE = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096


def read_memory():
    """(rss, vsz) in bytes, as uWSGI reads them on Linux; (0, 0) without /proc."""
    try:
        with open('/proc/self/statm', 'rb') as statm:
            fields = statm.read().split()
        return int(fields[1]) * _PAGE, int(fields[0]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0, 0


class Channel(object):
    """Lines to and from the master on one socket. Writes are one os.write() of a whole line,
    under a lock, so the reporter, a request thread and the watchdog never interleave."""

    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, message):
        data = (json.dumps(message, separators=(',', ':')) + '\n').encode('utf-8')
        with self.lock:
            try:
                while data:
                    data = data[os.write(self.fd, data):]
            except OSError:
                # The master is gone: the main thread notices its parent left and drains.
                pass


class Reporter(object):
    """Sends the worker's counters every `interval` seconds and asks for recycling."""

    def __init__(self, channel, accounting, server, interval, max_requests, reload_on_rss, startup_time):
        self.channel = channel
        self.accounting = accounting
        self.server = server
        self.interval = interval
        self.max_requests = max_requests
        self.reload_on_rss = reload_on_rss
        self.startup_time = startup_time
        self.retire_requested = False
        self.retire_lock = threading.Lock()
        #: requests finished by the other workers, from the master's last `totals`
        self.other_requests = 0
        #: our requests in the report the master answered last
        self.reported_requests = 0
        #: called on the master's `reopen-logs`
        self.on_reopen = None

    def start(self):
        thread = threading.Thread(target=self._run, name='tsgi-reporter')
        thread.daemon = True
        thread.start()

    def on_request_finished(self, finished):
        if self.max_requests is not None and finished >= self.max_requests:
            self.retire('max-requests', '%d requests served (max-requests %d)' % (finished, self.max_requests))

    def retire(self, reason, detail):
        with self.retire_lock:
            if self.retire_requested or self.server.stopping:
                return
            self.retire_requested = True
        # The worker keeps serving: the master sends SIGTERM once its replacement accepts.
        self.channel.send({'type': 'retire', 'reason': reason, 'detail': detail})

    def report(self):
        accounting = self.accounting
        cores = accounting.cores
        rss, vsz = read_memory()
        return {
            'requests': sum(core.requests for core in cores),
            'exceptions': sum(core.exceptions for core in cores),
            'inFlight': max(0, accounting.in_flight),
            'queued': 0,
            'avgRt': accounting.take_average_micros(),
            'tx': sum(core.tx for core in cores),
            'rss': rss,
            'accepting': not self.server.stopping,
            'vsz': vsz,
            'runningTime': int(round(sum(core.running for core in cores) * 1000000)),
            'busyTime': accounting.busy_micros(),
            'cores': [{'requests': core.requests, 'inRequest': core.started != 0.0} for core in cores],
            'startupTime': self.startup_time,
        }

    def _run(self):
        fd = self.channel.fd
        pending = b''
        next_report = time.monotonic() + self.interval
        while True:
            left = next_report - time.monotonic()
            if left <= 0:
                self._send_report()
                next_report = time.monotonic() + self.interval
                continue
            try:
                readable, _, _ = select.select([fd], [], [], left)
            except (OSError, ValueError):
                return
            if not readable:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                # The master closed the channel: it is gone or going; the main thread sees it.
                return
            pending += data
            while b'\n' in pending:
                line, pending = pending.split(b'\n', 1)
                self._on_master_line(line)

    def _send_report(self):
        report = self.report()
        self.reported_requests = report['requests']
        self.channel.send({'type': 'report', 'report': report})
        limit = self.reload_on_rss
        if limit is not None and report['rss'] > limit:
            self.retire('reload-on-rss', 'rss %d MB > reload-on-rss %d MB' % (round(report['rss'] / 1048576.0), round(limit / 1048576.0)))

    def _on_master_line(self, line):
        try:
            message = json.loads(line.decode('utf-8'))
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get('type')
        if kind == 'totals':
            totals = message.get('totals')
            if isinstance(totals, dict) and isinstance(totals.get('requests'), int):
                self.other_requests = max(0, totals['requests'] - self.reported_requests)
        elif kind == 'reopen-logs' and self.on_reopen is not None:
            self.on_reopen()
