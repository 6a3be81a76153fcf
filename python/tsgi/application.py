"""The one WSGI callable a worker serves, put together from its options the way uWSGI's python
plugin does: the default app (--wsgi-file / --module, mountpoint ''), the --mount apps
(mounts.py) and --static-map in front of all of them (static_map.py).

Without --mount nothing changes: the default app is served as loaded, and its load failure is
raised for main.py to report. With mounts, each app that fails is logged with uWSGI's line and
the others still serve (uWSGI loads every app it can); only when none loads is AppLoadError raised.
"""
import os

from .loader import AppLoadError, load_app
from .log import log, log_exception, prefix
from .mounts import MountDispatcher, load_mount, parse_mount
from .static_map import StaticMap, parse_mapping


def load_application(options, report_default_failure):
    """The served callable, or AppLoadError when no application could be loaded.
    `report_default_failure(options, error)` logs a failed default app when mounts go on."""
    mounts = [parse_mount(text) for text in options.mount]
    app = None
    if not mounts or options.wsgi_file is not None or options.module is not None:
        try:
            app = load_app(options)
        except AppLoadError as error:
            if not mounts:
                raise
            report_default_failure(options, error)
    if mounts:
        loaded = []
        for number, (mountpoint, target) in enumerate(mounts, start=1):
            try:
                loaded.append((mountpoint, load_mount(target, options.callable)))
            except AppLoadError as error:
                if error.exc is not None:
                    log_exception('%s: the application raised an exception while loading (--mount %s=%s):' % (prefix(), mountpoint, target), error.exc)
                log('%s: unable to load the application (--mount %s=%s): %s' % (prefix(), mountpoint, target, error.summary))
                log("unable to load app %d (mountpoint='%s') (callable not found or import error)" % (number, mountpoint))
                continue
            log("WSGI app %d (mountpoint='%s') ready in pid %d (%s)" % (number, mountpoint, os.getpid(), target))
        if not loaded and app is None:
            raise AppLoadError('none of the mounted applications could be loaded (%s)' % ', '.join('%s=%s' % pair for pair in mounts))
        app = MountDispatcher(loaded, app, options.manage_script_name)
    if options.static_map:
        app = StaticMap([parse_mapping(text) for text in options.static_map], app)
    return app

