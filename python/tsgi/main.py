"""The worker's start-up sequence: options, process set-up, the application, the socket, the
threads, then the readiness line the master waits for, then serve until told to stop."""
import faulthandler
import os
import socket
import sys
import time

from .environ import EnvironSettings
from .exit_codes import EXIT_FAILED_APP, EXIT_FAILURE
from .application import load_application
from .autoreload import start_autoreloader
from .loader import AppLoadError, describe, prepare_process
from .log import log, log_exception, prefix
from .options import parse_options
from .request import ServeContext
from .server import Server, open_listener
from .supervision import make_accounting, start_supervision

#: The line on stdout that tells the master the worker accepts requests.
READY_LINE = 'tsgi-python ready pid=%d'


def main(argv):
    options = parse_options(argv)
    _line_buffered()
    # A segfault in a C extension prints the Python stack of every thread before the process
    # dies of the signal; the master then respawns it.
    faulthandler.enable(file=sys.stderr, all_threads=True)

    try:
        prepare_process(options)
    except OSError as error:
        log('%s: chdir(%s): %s' % (prefix(), options.chdir, error.strerror or error))
        return EXIT_FAILURE

    app = None
    loading = time.monotonic()
    try:
        app = load_application(options, _report_load_failure)
    except AppLoadError as error:
        _report_load_failure(options, error)
        if options.need_app:
            log('*** no app loaded. GAME OVER ***')
            return EXIT_FAILED_APP
        log('*** no app loaded. going in full dynamic mode ***')
    startup_time = time.monotonic() - loading

    try:
        listener, created = open_listener(options)
    except (OSError, ValueError) as error:
        where = options.socket if options.socket is not None else 'fd %d' % options.fd
        log('%s: cannot listen on %s: %s' % (prefix(), where, error))
        return EXIT_FAILURE

    tcp = listener.family in (socket.AF_INET, socket.AF_INET6)
    accounting = make_accounting(options)
    ctx = ServeContext(
        app=app,
        buffer_size=options.buffer_size,
        socket_timeout=options.socket_timeout,
        environ_settings=EnvironSettings(multithread=options.threads > 1, multiprocess=options.multiprocess),
        tcp=tcp,
        accounting=accounting,
    )
    server = Server(
        listener,
        ctx,
        threads=options.threads,
        mercy=options.worker_reload_mercy,
        unlink_path=options.socket if created else None,
    )
    server.install_signals()
    server.start()
    start_supervision(options, accounting, server, startup_time)
    if app is not None and (options.wsgi_file is not None or options.module is not None):
        log('WSGI app 0 (mountpoint=\'\') ready in pid %d (%s, %d thread%s)' % (os.getpid(), describe(options), options.threads, '' if options.threads == 1 else 's'))
    if options.py_autoreload > 0:
        start_autoreloader(options.py_autoreload, options.py_autoreload_ignore, under_master=options.fd is not None)
    sys.stdout.write(READY_LINE % os.getpid() + '\n')
    sys.stdout.flush()
    return server.run()


def _report_load_failure(options, error):
    what = describe(options)
    if error.exc is not None:
        log_exception('%s: the application raised an exception while loading (%s):' % (prefix(), what), error.exc)
    log('%s: unable to load the application (%s): %s' % (prefix(), what, error.summary))
    # uWSGI's line, so log searches written for uWSGI still match.
    log("unable to load app 0 (mountpoint='') (callable not found or import error)")


def _line_buffered():
    # Pipes make Python buffer stdout/stderr in blocks; the master's log must see each line
    # as it is written (uWSGI sets the same for its embedded interpreter).
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, 'reconfigure', None)
        if reconfigure is not None:
            try:
                reconfigure(line_buffering=True)
            except (ValueError, OSError):
                pass
