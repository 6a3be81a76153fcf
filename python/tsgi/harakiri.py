"""Harakiri (uWSGI's --harakiri N) inside the Python worker: a watchdog thread finds a request
that has run longer than N seconds, writes uWSGI's lines (the same text as the JS worker's
watchdog, src/appserver/watchdog.ts), tells the master on the channel which request it was,
and sends SIGKILL to its own process; the master respawns the worker.

A request thread in time.sleep(), in I/O or in pure Python code lets this thread run (the GIL
is released or switched every few milliseconds). C code that holds the GIL forever stops the
reporter too: the master's backstop (no report for longer than the limit) kills the worker.
"""
import os
import signal
import threading
import time


def ctime(seconds):
    """C's ctime() without the newline, local time: `Sun Nov  2 01:11:25 2026`."""
    return time.strftime('%a %b %e %H:%M:%S %Y', time.localtime(seconds))


def describe(environ):
    """`METHOD URI`, as the JS watchdog names a request."""
    if environ is None:
        return 'unknown request'
    uri = environ.get('REQUEST_URI') or environ.get('PATH_INFO', '')
    return '%s %s' % (environ.get('REQUEST_METHOD', ''), uri)


def _write(fd, text):
    data = text.encode('utf-8', 'replace')
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass


class Watchdog(object):
    def __init__(self, accounting, limit, worker_id, channel):
        self.accounting = accounting
        self.limit = limit
        self.worker_id = worker_id
        self.channel = channel
        # uWSGI checks once a second; a quarter of the limit keeps a 1 s harakiri within 1.25 s.
        self.check = max(0.05, min(1.0, limit / 4.0))

    def start(self):
        thread = threading.Thread(target=self._run, name='tsgi-harakiri')
        thread.daemon = True
        thread.start()

    def _run(self):
        while True:
            time.sleep(self.check)
            culprit = self._oldest()
            if culprit is not None:
                self._kill(*culprit)

    def _oldest(self):
        """(core, started_wall, environ) of the oldest request past the limit, or None."""
        oldest = None
        now = time.time()
        for core in self.accounting.cores:
            # Read once: the request thread may finish the request while we look.
            started = core.started_wall
            environ = core.environ
            if core.started == 0.0 or environ is None or now - started < self.limit:
                continue
            if oldest is None or started < oldest[1]:
                oldest = (core, started, environ)
        return oldest

    def _kill(self, core, started, environ):
        pid = os.getpid()
        request = describe(environ)
        _write(2, '*** HARAKIRI ON WORKER %d (pid: %d, try: 1) ***\n' % (self.worker_id, pid))
        _write(2, 'HARAKIRI: --- tsgi worker %d core %d (pid: %d) WAS managing request %s since %s ---\n' % (self.worker_id, core.index, pid, request, ctime(started)))
        if self.channel is not None:
            self.channel.send({'event': 'harakiri', 'request': request, 'startedAt': started * 1000})
        os.kill(pid, signal.SIGKILL)
