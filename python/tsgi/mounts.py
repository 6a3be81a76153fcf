"""uWSGI's --mount /PREFIX=APP and --manage-script-name in the worker: several applications in
one process, each under a mountpoint, chosen per request the way uWSGI's python plugin does.

Loading (uwsgi_python_mount_app and the mount loader of pyloader.c): APP ending in `.py` or
`.wsgi` is a file, loaded as --wsgi-file is (its callable is --callable); `MOD:CALLABLE` is a
module. Anything else cannot be mounted by the python plugin and is a load failure.

Choosing (uwsgi_python_request, uwsgi_get_app_id):
  - with --manage-script-name, the longest mountpoint that starts PATH_INFO (at a '/' boundary,
    as the master's JS dispatcher does) becomes SCRIPT_NAME and is cut from PATH_INFO; SCRIPT_NAME
    is set, not appended to, so nginx's `uwsgi_param SCRIPT_NAME /myapp` does not double it;
  - then the app whose mountpoint equals SCRIPT_NAME answers;
  - else the default app (the --wsgi-file/--module one, mountpoint '');
  - else 500 and uWSGI's "no python application found" line.
"""
from .loader import AppLoadError, load_file, load_module
from .log import log, prefix

_NOT_FOUND = b'Internal Server Error'


def parse_mount(text):
    """'/myapp=server.py' -> ('/myapp', 'server.py'); ValueError otherwise."""
    mountpoint, equals, target = text.partition('=')
    if not equals or not mountpoint.startswith('/') or not target:
        raise ValueError('--mount expects /PREFIX=APP, got %r' % text)
    return mountpoint.rstrip('/'), target


def load_mount(target, callable_name):
    """The WSGI callable of one --mount target, or AppLoadError."""
    if target.endswith('.py') or target.endswith('.wsgi'):
        return load_file(target, callable_name)
    module_name, colon, attribute = target.partition(':')
    if colon and module_name and attribute:
        return load_module(module_name, attribute)
    raise AppLoadError('cannot mount %r: give a file ending in .py or .wsgi, or MODULE:CALLABLE' % target)


class MountDispatcher(object):
    def __init__(self, mounts, default_app, manage_script_name):
        # Longest first: with --manage-script-name the most specific mountpoint wins.
        self.mounts = sorted(mounts, key=lambda pair: len(pair[0]), reverse=True)
        self.by_name = dict(mounts)
        self.default_app = default_app
        self.manage_script_name = manage_script_name

    def __call__(self, environ, start_response):
        if self.manage_script_name:
            path = environ.get('PATH_INFO', '')
            for mountpoint, app in self.mounts:
                if path.startswith(mountpoint) and (len(path) == len(mountpoint) or path[len(mountpoint)] == '/'):
                    environ['SCRIPT_NAME'] = mountpoint
                    environ['PATH_INFO'] = path[len(mountpoint):]
                    return app(environ, start_response)
        app = self.by_name.get(environ.get('SCRIPT_NAME', '').rstrip('/'), self.default_app)
        if app is not None:
            return app(environ, start_response)
        log('%s: --- no python application found for SCRIPT_NAME=%r PATH_INFO=%r, check your startup logs for errors ---'
            % (prefix(), environ.get('SCRIPT_NAME', ''), environ.get('PATH_INFO', '')))
        start_response('500 Internal Server Error', [('Content-Type', 'text/plain'), ('Content-Length', str(len(_NOT_FOUND)))])
        return [_NOT_FOUND]
