"""What the worker counts about its requests, for the master's reports, the request log,
harakiri and --max-requests (the Python side of src/appserver/worker-requests.ts).

One Core per request thread (uWSGI's cores): a thread writes only its own Core, so the
per-request counters need no lock; the reporter thread and the harakiri watchdog read them.
Only what spans threads (requests in flight, busy time, the interval's response times, the
request numbers) is kept under a lock, and with one thread not even that.
"""
import threading
from time import perf_counter, time


class Core(object):
    """One request thread's counters and the request it runs now."""

    __slots__ = ('index', 'requests', 'exceptions', 'tx', 'running', 'started', 'started_wall', 'environ', 'app_requests', 'vars', 'vars_bytes')

    def __init__(self, index):
        self.index = index
        self.requests = 0
        self.exceptions = 0
        #: bytes written to the peer (heads and bodies)
        self.tx = 0
        #: seconds spent in requests
        self.running = 0.0
        #: perf_counter() when the current request started; 0.0 when idle
        self.started = 0.0
        #: time() when the current request started (the log line's date, harakiri's "since")
        self.started_wall = 0.0
        #: the current request's environ (harakiri names it)
        self.environ = None
        #: the worker's request number of the current request (the log's `req: N/...`)
        self.app_requests = 0
        #: uWSGI's `{N vars in N bytes}` of the current request, counted on arrival
        self.vars = 0
        self.vars_bytes = 0


def count_vars(core, environ):
    """The request variables as uWSGI counts them: names and values apart, 2 + length each,
    string values only (not wsgi.* objects)."""
    count = 0
    size = 0
    for key, value in environ.items():
        if type(value) is str and '.' not in key:
            count += 2
            size += 4 + len(key) + len(value)
    core.vars = count
    core.vars_bytes = size


class Accounting(object):
    """The worker's counters. `on_finished(core, environ, response, seconds, failed, finished)`
    runs after each request (the request log, --max-requests)."""

    def __init__(self, threads, count_request_vars=False):
        self.cores = [Core(index) for index in range(threads)]
        self.single = threads == 1
        self.lock = threading.Lock()
        self.count_request_vars = count_request_vars
        self.in_flight = 0
        #: seconds of wall time with at least one request running (what --cheaper calls busy)
        self.busy = 0.0
        self.busy_since = 0.0
        #: response times of the current report interval (uWSGI's avg_rt)
        self.interval_seconds = 0.0
        self.interval_requests = 0
        #: requests started and finished since the worker started
        self.started = 0
        self.finished = 0
        self.on_finished = None

    def begin(self, core, environ):
        now = perf_counter()
        core.started_wall = time()
        core.environ = environ
        if self.count_request_vars:
            count_vars(core, environ)
        if self.single:
            self.busy_since = now
            self.in_flight = 1
            self.started += 1
            core.app_requests = self.started
        else:
            with self.lock:
                if self.in_flight == 0:
                    self.busy_since = now
                self.in_flight += 1
                self.started += 1
                core.app_requests = self.started
        core.started = now

    def end(self, core, response, failed):
        now = perf_counter()
        seconds = now - core.started
        core.started = 0.0
        core.requests += 1
        core.running += seconds
        if failed:
            core.exceptions += 1
        head = response.head
        core.tx += response.sent + (len(head) if head is not None and response.headers_sent else 0)
        if self.single:
            self.in_flight = 0
            self.busy += now - self.busy_since
            self.interval_seconds += seconds
            self.interval_requests += 1
            self.finished += 1
            finished = self.finished
        else:
            with self.lock:
                self.in_flight -= 1
                if self.in_flight == 0:
                    self.busy += now - self.busy_since
                self.interval_seconds += seconds
                self.interval_requests += 1
                self.finished += 1
                finished = self.finished
        environ = core.environ
        core.environ = None
        if self.on_finished is not None:
            self.on_finished(core, environ, response, seconds, failed, finished)

    def take_average_micros(self):
        """The mean response time of the requests finished since the last call, microseconds."""
        with self.lock:
            seconds, count = self.interval_seconds, self.interval_requests
            self.interval_seconds = 0.0
            self.interval_requests = 0
        return int(round(seconds * 1000000 / count)) if count else 0

    def busy_micros(self):
        with self.lock:
            busy = self.busy
            if self.in_flight > 0:
                busy += perf_counter() - self.busy_since
        return int(round(busy * 1000000))
