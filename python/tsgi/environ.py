"""The PEP 3333 environ, built from a packet's vars (uWSGI: plugins/python/wsgi_subhandler.c).

What the worker adds to the vars it received, and why:
  - modifier1 30: SCRIPT_NAME is removed from the front of PATH_INFO (nginx sends the full
    path and `uwsgi_param SCRIPT_NAME /app`). Only at a path boundary: '/app' is cut from
    '/app/x' and '/app' but not from '/apple', which uWSGI would turn into 'le'.
  - A SCRIPT_NAME ending in '/' loses the slash ('/' becomes ''): PEP 3333 puts that slash in
    PATH_INFO, and wsgiref.validate refuses SCRIPT_NAME '/'.
  - HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH are dropped (nginx passes every request header as
    HTTP_*, these two included; CGI and PEP 3333 name them CONTENT_TYPE / CONTENT_LENGTH
    only). A Content-Type header with no CONTENT_TYPE var becomes CONTENT_TYPE.
  - Keys PEP 3333 requires get a default when the peer left them out: SCRIPT_NAME '',
    PATH_INFO '', QUERY_STRING '', SERVER_PROTOCOL 'HTTP/1.1', SERVER_NAME and SERVER_PORT
    from HTTP_HOST (else 'localhost' and the scheme's port). nginx's uwsgi_params sends all
    but SCRIPT_NAME.
  - wsgi.url_scheme: UWSGI_SCHEME if given, else 'https' when HTTPS is 'on' or '1' (uWSGI's
    rule), else REQUEST_SCHEME, else 'http'.
"""
import sys

from .response import FileWrapper

WSGI_VERSION = (1, 0)


class EnvironSettings(object):
    __slots__ = ('multithread', 'multiprocess', 'constant')

    def __init__(self, multithread, multiprocess):
        self.multithread = multithread
        self.multiprocess = multiprocess
        #: the wsgi.* keys that are the same for every request, added with one dict.update()
        #: (wsgi.errors is the stderr of start-up, as uWSGI's is fixed when the app loads)
        self.constant = {
            'wsgi.version': WSGI_VERSION,
            'wsgi.errors': sys.stderr,
            'wsgi.multithread': multithread,
            'wsgi.multiprocess': multiprocess,
            'wsgi.run_once': False,
            'wsgi.file_wrapper': FileWrapper,
            'wsgi.input_terminated': True,
        }


def build_environ(packet, wsgi_input, settings):
    environ = packet.vars
    script_name = environ.get('SCRIPT_NAME')
    if script_name is None:
        script_name = environ['SCRIPT_NAME'] = ''
    elif script_name.endswith('/'):
        script_name = environ['SCRIPT_NAME'] = script_name.rstrip('/')
    if 'PATH_INFO' not in environ:
        environ['PATH_INFO'] = ''
    elif packet.modifier1 == 30 and script_name:
        path_info = environ['PATH_INFO']
        if path_info.startswith(script_name) and (len(path_info) == len(script_name) or path_info[len(script_name)] == '/'):
            environ['PATH_INFO'] = path_info[len(script_name):]
    if 'HTTP_CONTENT_TYPE' in environ:
        header = environ.pop('HTTP_CONTENT_TYPE')
        if 'CONTENT_TYPE' not in environ:
            environ['CONTENT_TYPE'] = header
    environ.pop('HTTP_CONTENT_LENGTH', None)
    if 'QUERY_STRING' not in environ:
        environ['QUERY_STRING'] = ''
    if 'SERVER_PROTOCOL' not in environ:
        environ['SERVER_PROTOCOL'] = 'HTTP/1.1'
    scheme = url_scheme(environ)
    if 'SERVER_NAME' not in environ or 'SERVER_PORT' not in environ:
        _default_server(environ, scheme)
    environ.update(settings.constant)
    environ['wsgi.url_scheme'] = scheme
    environ['wsgi.input'] = wsgi_input
    return environ


def url_scheme(environ):
    scheme = environ.get('UWSGI_SCHEME')
    if scheme:
        return scheme.lower()
    https = environ.get('HTTPS')
    if https:
        return 'https' if https.lower() == 'on' or https[0] == '1' else 'http'
    scheme = environ.get('REQUEST_SCHEME')
    if scheme:
        return scheme.lower()
    return 'http'


def _default_server(environ, scheme):
    host = environ.get('HTTP_HOST', '')
    name, port = host, ''
    if host.startswith('['):
        end = host.find(']')
        name = host[:end + 1] if end > 0 else host
        rest = host[end + 1:] if end > 0 else ''
        port = rest[1:] if rest.startswith(':') else ''
    elif ':' in host:
        name, _, port = host.rpartition(':')
    if 'SERVER_NAME' not in environ:
        environ['SERVER_NAME'] = name or 'localhost'
    if 'SERVER_PORT' not in environ:
        environ['SERVER_PORT'] = port if port.isdigit() else ('443' if scheme == 'https' else '80')
