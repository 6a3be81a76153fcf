"""The response side of PEP 3333: start_response(), the write() callable, the raw HTTP response
head, and wsgi.file_wrapper.

On a uwsgi socket the response is a raw HTTP response, as uWSGI writes it
(plugins/python/wsgi_headers.c): `SERVER_PROTOCOL status\\r\\n`, `Name: value\\r\\n` per
header, `\\r\\n`, the body; the end of the body is the close of the connection.

The rules this module keeps:
  - start_response() only records the status and headers; they are sent with the first
    non-empty body chunk (or write()), or when the body ends empty. Until then an exception
    can still become a clean 500, and start_response(..., exc_info) can replace them.
  - A second start_response() without exc_info is an error; with exc_info after the head
    was sent it re-raises exc_info (PEP 3333).
  - status and headers are native strings, encodable as latin-1, with no CR or LF (a header
    injection would be a response-splitting hole); headers is a list of 2-tuples.
  - A Content-Length the app gave is honoured: no byte beyond it is sent, iteration stops
    when it is reached, and write() past it raises.
  - The head and the first chunk leave in one sendmsg() (one syscall for small responses).

A kept connection (tsgi's router asked for it with modifier2 KEEP_CONNECTION, packet.py):
the response must end where the router can see it end, since no close marks it. The head
carries `Tsgi-Keep: 1` when the worker will read the next packet on this connection:
  - HEAD, 1xx, 204, 304: the head only; body bytes from the app are dropped
  - the app's Content-Length: that many bytes (a shorter body closes the connection)
  - no length, HTTP/1.1: the worker chunks the body itself (Transfer-Encoding: chunked)
  - no length, HTTP/1.0, or the app's own Transfer-Encoding: no `Tsgi-Keep`; the close ends it
"""
import os
import re
import socket
import stat

from .link import DONTWAIT

#: HTTP token characters (RFC 9110): what a header name may contain.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
#: sendfile() count per call; Linux moves at most about 2 GiB per call anyway.
SENDFILE_CHUNK = 1 << 30
#: the head line that tells tsgi's router the connection carries another request after this one
KEEP_LINE = 'Tsgi-Keep: 1\r\n'
_CHUNKED_LINE = 'Transfer-Encoding: chunked\r\n'
_LAST_CHUNK = b'0\r\n\r\n'


#: Header names already checked against _TOKEN: apps send the same few names on every response.
_GOOD_NAMES = set()
#: Bound on _GOOD_NAMES, so an app that makes up names cannot grow it forever.
_GOOD_NAMES_MAX = 1024


def _check_name(name):
    if type(name) is not str:
        raise TypeError('header names must be str, got %r' % (name,))
    if not _TOKEN.match(name):
        raise ValueError('invalid header name %r' % name)
    if len(_GOOD_NAMES) < _GOOD_NAMES_MAX:
        _GOOD_NAMES.add(name)


def _find_line_break(status, headers):
    if '\r' in status or '\n' in status:
        raise ValueError('the status contains a line break: %r' % status)
    for name, value in headers:
        if '\r' in value or '\n' in value:
            raise ValueError('header %s contains a line break: %r' % (name, value))
    raise ValueError('a line break in the response head')


class WriteError(OSError):
    """Sending to the peer failed (it went away, or --socket-timeout passed). Raised from
    write() into the app and from body sending into the server; never an application bug."""


class FileWrapper(object):
    """wsgi.file_wrapper. Iterating reads `blksize` bytes at a time; when an app returns it
    unwrapped and the file has a real descriptor, the server uses os.sendfile() instead."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def sendfile_source(self):
        """(fd, offset, size) when the file can go through os.sendfile(), else None."""
        fileno = getattr(self.filelike, 'fileno', None)
        if fileno is None:
            return None
        try:
            fd = fileno()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None
            # tell() accounts for what a buffered reader already read ahead.
            offset = self.filelike.tell() if hasattr(self.filelike, 'tell') else os.lseek(fd, 0, os.SEEK_CUR)
        except (OSError, ValueError, AttributeError):
            # io.BytesIO and friends: fileno() raises UnsupportedOperation (an OSError).
            return None
        return fd, offset, max(0, info.st_size - offset)


class Response(object):
    """One request's response. The server calls send_body()/finish(); the app calls
    start_response() and write()."""

    __slots__ = ('link', 'protocol', 'method', 'head', 'status', 'headers_sent', 'content_length', 'sent', 'write_error', 'overflow', 'may_keep', 'keep', 'chunked', 'bodyless', 'app_headers', 'app_error')

    def __init__(self, link, protocol, method, may_keep=False):
        self.link = link
        # uWSGI answers in the request's protocol; HTTP/1.1 when the peer sent none.
        self.protocol = protocol if protocol.startswith('HTTP/') else 'HTTP/1.1'
        self.method = method
        #: the encoded head, set by start_response(), None before
        self.head = None
        #: the status line's text ('200 OK')
        self.status = ''
        self.headers_sent = False
        #: the app's Content-Length, or None
        self.content_length = None
        #: body bytes sent
        self.sent = 0
        #: the WriteError that ended the response, if sending failed
        self.write_error = None
        #: the app offered more bytes than its Content-Length
        self.overflow = False
        #: the router asked to keep the connection and the worker can (see the module doc)
        self.may_keep = may_keep
        #: the head promised the router a self-delimited response (Tsgi-Keep)
        self.keep = False
        #: the worker frames the body as chunks (a kept connection, no length from the app)
        self.chunked = False
        #: the response has no body on the wire (HEAD, 1xx, 204, 304) on a kept connection
        self.bodyless = False
        #: the app's header list (the request log counts it), None when the answer was the 500
        self.app_headers = None
        #: the application raised (the worker's `exceptions` counter)
        self.app_error = False

    # -- the application's side -----------------------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.headers_sent:
                    # PEP 3333: too late to change anything; re-raise the app's own error.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                # Break the frame <-> traceback cycle, as PEP 3333 recommends.
                exc_info = None
        elif self.head is not None:
            raise AssertionError('start_response() called a second time without exc_info')
        self.head, self.content_length = self._encode_head(status, headers)
        self.status = status
        self.app_headers = headers
        return self.write

    def write(self, data):
        if self.head is None:
            raise AssertionError('write() called before start_response()')
        if type(data) is not bytes:
            raise TypeError('write() expects bytes, got %s' % type(data).__name__)
        if data:
            self.send_body(data)
            if self.overflow:
                raise ValueError('write() past the Content-Length the application announced (%d)' % self.content_length)

    # -- the server's side ----------------------------------------------------------------

    @property
    def complete(self):
        """The app's Content-Length has been sent in full: nothing more may follow."""
        return self.content_length is not None and self.sent >= self.content_length

    def send_body(self, data):
        """Sends a non-empty chunk, with the head first if it has not left yet."""
        if self.keep:
            if self.bodyless:
                data = b''
            elif self.chunked:
                self._send_chunk(data)
                return
        if self.content_length is not None:
            room = self.content_length - self.sent
            if len(data) > room:
                self.overflow = True
                data = data[:room]
        if not self.headers_sent:
            self.headers_sent = True
            self._send_pair(self.head, data)
        elif data:
            self._sendall(data)
        self.sent += len(data)

    def finish(self):
        """The body ended: sends the head if no chunk carried it (an empty body)."""
        if self.head is None:
            raise AssertionError('the application returned without calling start_response()')
        if self.chunked:
            if self.headers_sent:
                self._sendall(_LAST_CHUNK)
            else:
                self.headers_sent = True
                self._sendall(self.head + _LAST_CHUNK)
        elif not self.headers_sent:
            self.headers_sent = True
            self._sendall(self.head)

    def _send_chunk(self, data):
        size = b'%x\r\n' % len(data)
        if not self.headers_sent:
            self.headers_sent = True
            self._send_pair(self.head + size, data + b'\r\n')
        else:
            self._send_pair(size, data + b'\r\n')
        self.sent += len(data)

    def sendfile(self, wrapper, source):
        """Sends the file behind a FileWrapper with os.sendfile(): the head, then the file
        from its current position to its end (or to the app's Content-Length)."""
        fd, offset, count = source
        if self.content_length is not None:
            count = min(count, self.content_length - self.sent)
        if self.bodyless:
            self.finish()
            return
        if self.chunked:
            # One chunk of the size fstat() gave; a file that shrinks meanwhile breaks it, and
            # then the connection is not kept (see `keep` below).
            self.chunked = False
            if count:
                self.headers_sent = True
                self._sendall(self.head + b'%x\r\n' % count)
                self.sent = 0
                self._sendfile(fd, offset, count)
                self._sendall(b'\r\n' + _LAST_CHUNK)
                if self.sent < count:
                    self.keep = False
            else:
                self.headers_sent = True
                self._sendall(self.head + _LAST_CHUNK)
            return
        self.finish()
        self._sendfile(fd, offset, count)

    def _sendfile(self, fd, offset, count):
        self.link.arm()
        out = self.link.sock.fileno()
        while count > 0:
            try:
                done = os.sendfile(out, fd, offset, min(count, SENDFILE_CHUNK))
            except (BlockingIOError, socket.timeout) as error:
                raise self._failed(WriteError('timed out sending the response (--socket-timeout)'), error)
            except OSError as error:
                raise self._failed(WriteError(error.errno, error.strerror), error)
            if done == 0:
                # The file is shorter than fstat() said (truncated meanwhile).
                break
            offset += done
            count -= done
            self.sent += done

    def error_head(self):
        """The 500 sent when the app failed before any byte of its response left."""
        self.keep = self.may_keep
        # On a kept connection the router reads no body after a HEAD head.
        body = b'' if self.keep and self.method == 'HEAD' else b'Internal Server Error'
        keep = KEEP_LINE if self.keep else ''
        return ('%s 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n%s\r\n' % (self.protocol, keep)).encode('latin-1') + body

    def send_raw(self, data):
        self.headers_sent = True
        self._sendall(data)

    # -- internals ------------------------------------------------------------------------

    def _encode_head(self, status, headers):
        if type(status) is not str:
            raise TypeError('status must be a str, got %s' % type(status).__name__)
        if len(status) < 3 or not status[:3].isdigit() or (len(status) > 3 and status[3] != ' '):
            raise ValueError('status must be "NNN Reason", got %r' % status)
        if type(headers) is not list:
            raise TypeError('headers must be a list of (name, value) tuples, got %s' % type(headers).__name__)
        parts = [self.protocol, ' ', status, '\r\n']
        content_length = None
        own_coding = False
        good_names = _GOOD_NAMES
        for header in headers:
            if type(header) is not tuple or len(header) != 2:
                raise TypeError('each header must be a (name, value) tuple, got %r' % (header,))
            name, value = header
            if type(value) is not str:
                raise TypeError('header values must be str, got %r' % (header,))
            if name not in good_names:
                _check_name(name)
            if len(name) == 14 and name.lower() == 'content-length':
                text = value.strip()
                if not text.isdigit():
                    raise ValueError('Content-Length must be a decimal number, got %r' % value)
                content_length = int(text)
            elif len(name) == 17 and name.lower() == 'transfer-encoding':
                own_coding = True
            parts += (name, ': ', value, '\r\n')
        lines = len(headers) + 2
        if self.may_keep:
            lines += self._keep_lines(status, parts, content_length, own_coding)
        parts.append('\r\n')
        head = ''.join(parts)
        # One scan of the whole head instead of two per value: exactly one CR and one LF per
        # line, or a status or value carries a line break (response splitting).
        if head.count('\n') != lines or head.count('\r') != lines:
            _find_line_break(status, headers)
        # UnicodeEncodeError (a ValueError) when a character is not latin-1, as PEP 3333 requires.
        return head.encode('latin-1'), content_length

    def _keep_lines(self, status, parts, content_length, own_coding):
        """Decides how a kept connection's response ends (module doc); returns the lines added."""
        code = status[:3]
        self.bodyless = self.method == 'HEAD' or code[0] == '1' or code == '204' or code == '304'
        self.chunked = False
        if self.bodyless or content_length is not None:
            self.keep = True
        elif own_coding or self.protocol != 'HTTP/1.1':
            self.keep = False
            return 0
        else:
            self.keep = self.chunked = True
            parts.append(_CHUNKED_LINE)
            parts.append(KEEP_LINE)
            return 2
        parts.append(KEEP_LINE)
        return 1

    def _send_pair(self, head, data):
        """head + data in one sendmsg() (a writev): one system call for a small response."""
        if not data:
            self._sendall(head)
            return
        link = self.link
        total = len(head) + len(data)
        try:
            if link.armed:
                sent = link.sock.sendmsg((head, data))
            else:
                try:
                    sent = link.sock.sendmsg((head, data), (), DONTWAIT)
                except BlockingIOError:
                    sent = 0
        except OSError as error:
            raise self._failed(WriteError(error.errno, error.strerror), error)
        if sent < total:
            # The peer's buffer is full: the rest waits (with the timeouts on), without copying
            # head and data into one buffer.
            if sent < len(head):
                self._sendall(memoryview(head)[sent:])
                sent = len(head)
            self._sendall(memoryview(data)[sent - len(head):])

    def _sendall(self, data):
        link = self.link
        try:
            if not link.armed:
                # Whatever fits in the socket buffer leaves without a timeout; the rest waits
                # for the peer, so the timeouts go on first.
                try:
                    sent = link.sock.send(data, DONTWAIT)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return
                if sent:
                    data = memoryview(data)[sent:]
                link.arm()
            link.sock.sendall(data)
        except (BlockingIOError, socket.timeout) as error:
            raise self._failed(WriteError('timed out sending the response (--socket-timeout)'), error)
        except OSError as error:
            raise self._failed(WriteError(error.errno, error.strerror), error)

    def _failed(self, error, cause):
        error.__cause__ = cause
        self.write_error = error
        return error
