"""One connection, from the packet to the close: build the environ, call the application,
send what it returns, and make sure its close() runs whatever happens.

Outcomes, and what the peer and the log see:
  app raises before any byte left     500 Internal Server Error (a complete response); the
                                      traceback on stderr; the worker goes on serving
  app raises after the head left      the connection is closed where it stands; the traceback
                                      on stderr. With the app's Content-Length the peer sees a
                                      short body; without one the uwsgi protocol has no way to
                                      tell the cut from the end (uWSGI is in the same place).
                                      A TCP reset is not used for it: a reader that has already
                                      drained the socket sees it as a plain EOF, and one that
                                      has not may lose the bytes before it (measured with Node)
  the peer goes away / times out      one line on stderr; iteration stops; close() runs
  malformed packet                    one line on stderr; the connection is closed unanswered
  no application loaded               500, and "Python application not found" on stderr
The iterable's close() is called in every case where the app returned one.
"""
import socket
import struct

from .environ import build_environ
from .input import InputStream
from .link import Link
from .log import log, log_exception, prefix
from .packet import KEEP_CONNECTION, PacketError, read_packet
from .response import FileWrapper, Response, WriteError


class ServeContext(object):
    """What every request of this worker shares."""

    __slots__ = ('app', 'buffer_size', 'socket_timeout', 'timeouts', 'environ_settings', 'tcp', 'accounting')

    def __init__(self, app, buffer_size, socket_timeout, environ_settings, tcp, accounting=None):
        self.app = app
        self.buffer_size = buffer_size
        self.socket_timeout = socket_timeout
        #: --socket-timeout as the struct timeval of SO_RCVTIMEO/SO_SNDTIMEO, None for 0
        self.timeouts = None
        if socket_timeout > 0:
            whole = int(socket_timeout)
            self.timeouts = struct.pack('ll', whole, int((socket_timeout - whole) * 1000000))
        self.environ_settings = environ_settings
        #: connections are TCP (they get TCP_NODELAY), not UNIX
        self.tcp = tcp
        #: the request counters (accounting.py); None when no master reads them
        self.accounting = accounting


def serve_connection(conn, ctx, may_keep=False, core=None):
    """Serves one request of `conn`. Never raises. Returns True when the connection carries
    another request (tsgi's router asked, `may_keep` allows it, and the response ended where
    its framing says); else the caller closes `conn`. `core` is the calling thread's Core of
    ctx.accounting."""
    link = Link(conn, ctx.timeouts)
    try:
        packet = read_packet(link, ctx.buffer_size)
    except PacketError as error:
        log('%s: %s' % (prefix(), error))
        return False
    except (socket.timeout, BlockingIOError):
        # SO_RCVTIMEO expired (EAGAIN): the peer connected and sent no complete packet.
        log('%s: timed out after %ss waiting for the uwsgi packet (--socket-timeout)' % (prefix(), ctx.socket_timeout))
        return False
    except OSError as error:
        log('%s: error reading the uwsgi packet: %s' % (prefix(), error))
        return False
    if packet is None:
        return False
    # Bytes past the body would be a pipelined packet, which tsgi's router never sends.
    may_keep = may_keep and packet.modifier2 == KEEP_CONNECTION and not packet.extra
    wsgi_input = InputStream(link, packet.content_length, packet.rest, ctx.socket_timeout)
    environ = build_environ(packet, wsgi_input, ctx.environ_settings)
    response = Response(link, environ['SERVER_PROTOCOL'], environ.get('REQUEST_METHOD', ''), may_keep)
    accounting = ctx.accounting
    if accounting is None or core is None:
        return _respond(ctx, environ, response, wsgi_input)
    accounting.begin(core, environ)
    try:
        return _respond(ctx, environ, response, wsgi_input)
    finally:
        accounting.end(core, response, response.app_error)


def _respond(ctx, environ, response, wsgi_input):
    if ctx.app is None:
        log('%s: Python application not found (%s %s)' % (prefix(), response.method, _where(environ)))
        return _send_error(response, environ) and wsgi_input.drain() and response.keep
    if run_app(ctx.app, environ, response):
        # Only a response that ended well needs the rest of the body read (before the close,
        # or before the next packet).
        return wsgi_input.drain() and response.keep and _framed_whole(response)
    return False


def _framed_whole(response):
    """The kept connection's response ended where its head said it would."""
    declared = response.content_length
    return declared is None or response.bodyless or response.sent >= declared

def run_app(app, environ, response):
    """Calls the app and sends its response. Returns True when the response was sent whole."""
    result = None
    try:
        result = app(environ, response.start_response)
        if type(result) is FileWrapper and response.head is not None:
            source = result.sendfile_source()
            if source is not None:
                response.sendfile(result, source)
                _check_length(response, environ)
                return True
        for chunk in result:
            if type(chunk) is not bytes:
                raise TypeError('the response iterable yielded %s; PEP 3333 bodies are bytes' % type(chunk).__name__)
            if chunk:
                response.send_body(chunk)
                if response.complete:
                    # PEP 3333: stop iterating once the Content-Length is sent.
                    break
        response.finish()
        if response.overflow:
            log('%s: %s %s: the body is longer than its Content-Length (%d): the rest was not sent' % (prefix(), response.method, _where(environ), response.content_length))
        _check_length(response, environ)
        return True
    except BaseException as error:  # noqa: B902 - SystemExit in a request thread is an app error too
        return _failed(error, environ, response)
    finally:
        if result is not None:
            _close(result, environ)


def _failed(error, environ, response):
    response.app_error = response.write_error is None
    if response.write_error is not None:
        # The peer went away or stopped reading: not an application bug, no traceback.
        log('%s: %s %s: write error after %d body bytes: %s' % (prefix(), response.method, _where(environ), response.sent, response.write_error))
        return False
    if not response.headers_sent:
        log_exception('%s: %s %s: the application raised an exception; answering 500:' % (prefix(), response.method, _where(environ)), error)
        return _send_error(response, environ)
    log_exception('%s: %s %s: the application raised an exception after the response head was sent (%d body bytes); closing the connection:' % (prefix(), response.method, _where(environ), response.sent), error)
    return False


def _send_error(response, environ):
    # The request log then says 500 with no headers, as for a JS app that threw.
    response.status = ''
    response.app_headers = None
    try:
        response.send_raw(response.error_head())
        return True
    except WriteError as error:
        log('%s: %s %s: write error sending the 500: %s' % (prefix(), response.method, _where(environ), error))
        return False


def _close(result, environ):
    close = getattr(result, 'close', None)
    if close is None:
        return
    try:
        close()
    except BaseException as error:  # noqa: B902
        log_exception('%s: %s %s: the response iterable\'s close() raised:' % (prefix(), environ.get('REQUEST_METHOD', ''), _where(environ)), error)


def _check_length(response, environ):
    declared = response.content_length
    if declared is None or response.sent >= declared:
        return
    status = response.status[:3]
    if response.method == 'HEAD' or status in ('204', '304') or status.startswith('1'):
        # These announce a length without a body.
        return
    log('%s: %s %s: the response body ended after %d of the %d bytes its Content-Length announced' % (prefix(), response.method, _where(environ), response.sent, declared))


def _where(environ):
    uri = environ.get('REQUEST_URI')
    if uri:
        return uri
    path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
    query = environ.get('QUERY_STRING')
    return path + ('?' + query if query else '')
