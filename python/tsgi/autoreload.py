"""--py-autoreload N: uWSGI's development reloader (uwsgi_python_autoreloader_thread in the
python plugin). A daemon thread wakes every N seconds and stats the file of every module in
sys.modules (a .pyc/.pyo/.pyd name is checked as its source, the last letter dropped, as uWSGI
does); modules named by --py-auto-reload-ignore are skipped. A file seen for the first time is
only recorded. When a recorded file's mtime changes, the thread logs uWSGI's line

    [uwsgi-python-reloader] module/file X has been modified

sends SIGHUP to the master and ends (one reload per worker generation). The master's SIGHUP is
its graceful reload: new workers import the code again and the old ones drain only once the new
ones accept, so no request fails. Worker processes run by hand (--socket, no master) signal
themselves instead: they drain and exit 17, uWSGI's reload code, for whatever runs them.

Two differences from uWSGI, both so that an edit is never missed: the mtimes are compared to the
nanosecond (uWSGI compares whole seconds, so a second edit within the same second after a check
goes unseen), and the modules loaded with the application are recorded when the thread starts
instead of after the first N seconds (an edit in that first interval would be taken as the
baseline).
"""
import os
import signal
import sys
import threading

from .log import log, prefix


def watched_file(module):
    filename = getattr(module, '__file__', None)
    if not isinstance(filename, str) or not filename:
        return None
    if filename.endswith(('.pyc', '.pyo', '.pyd')):
        return filename[:-1]
    return filename


class ModuleWatcher(object):
    """The mtimes of the files behind sys.modules, and what changed since they were recorded."""

    def __init__(self, ignore=()):
        self.ignore = frozenset(ignore)
        self.mtimes = {}

    def modified(self):
        """The first recorded file whose mtime changed, else None; records files seen anew."""
        # A copy: request threads may import modules while this runs.
        for name, module in list(sys.modules.items()):
            if name in self.ignore or module is None:
                continue
            filename = watched_file(module)
            if filename is None:
                continue
            try:
                mtime = os.stat(filename).st_mtime_ns
            except OSError:
                continue
            known = self.mtimes.get(filename)
            if known is None:
                self.mtimes[filename] = mtime
            elif known != mtime:
                return filename
        return None


def start_autoreloader(interval, ignore, under_master):
    """Starts the reloader thread; `under_master` says SIGHUP goes to the parent (the master)."""
    watcher = ModuleWatcher(ignore)
    watcher.modified()
    target = os.getppid() if under_master else os.getpid()
    stop = threading.Event()

    def run():
        while not stop.wait(interval):
            filename = watcher.modified()
            if filename is None:
                continue
            log('[uwsgi-python-reloader] module/file %s has been modified' % filename)
            if under_master and os.getppid() != target:
                log('%s: the master (pid %d) is gone: not reloading' % (prefix(), target))
                return
            os.kill(target, signal.SIGHUP)
            return

    thread = threading.Thread(target=run, name='tsgi-python-autoreloader', daemon=True)
    thread.start()
    log('%s: Python auto-reloader enabled (every %ss, %d files watched)' % (prefix(), interval, len(watcher.mtimes)))
    return stop
