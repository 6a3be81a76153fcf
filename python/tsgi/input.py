"""wsgi.input: the request body, read from the connection only when the application asks.

The body is never read whole unless the app asks for it whole (read() or read(-1)): memory
use is the bytes the app asked for plus at most one socket read (RECV_SIZE) of look-ahead,
whatever the body's size. EOF is simulated at CONTENT_LENGTH, so read() and iteration end
there and never wait on the connection (hence wsgi.input_terminated).

Methods are PEP 3333's: read(size=-1), readline(size=-1), readlines(hint=-1), __iter__.
read(n) returns n bytes unless the body ends first (uWSGI's loops the same way, and the
multipart parsers of Werkzeug and Django rely on it).

A body that stops short of CONTENT_LENGTH (the peer closed, or nothing came for
--socket-timeout seconds) raises OSError from the read that needed the missing bytes
(uWSGI raises IOError in the same case).
"""
import socket

#: Largest single recv(): bounds the look-ahead kept between calls.
RECV_SIZE = 65536


class InputStream(object):
    __slots__ = ('_link', '_length', '_remaining', '_buf', '_pos', '_timeout')

    def __init__(self, link, length, initial, timeout):
        self._link = link
        self._length = length
        #: bytes of the body still in the socket
        self._remaining = length - len(initial)
        #: look-ahead: body bytes received but not yet given to the app, from _pos on
        self._buf = initial
        self._pos = 0
        self._timeout = timeout

    # -- PEP 3333 -------------------------------------------------------------------------

    def read(self, size=-1):
        if size is None or size < 0:
            return self._read_all()
        if size == 0:
            return b''
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available >= size:
            self._pos = pos + size
            if pos == 0 and size == len(buf):
                return buf
            return buf[pos:pos + size]
        parts = []
        if available:
            parts.append(buf[pos:] if pos else buf)
        self._buf = b''
        self._pos = 0
        wanted = size - available
        while wanted > 0 and self._remaining > 0:
            data = self._recv(min(wanted, RECV_SIZE))
            parts.append(data)
            wanted -= len(data)
        if len(parts) == 1:
            return parts[0]
        return b''.join(parts)

    def readline(self, size=-1):
        if size is None:
            size = -1
        parts = []
        got = 0
        while True:
            buf, pos = self._buf, self._pos
            end = len(buf) if size < 0 else min(len(buf), pos + size - got)
            newline = buf.find(b'\n', pos, end)
            if newline >= 0:
                end = newline + 1
                parts.append(buf[pos:end])
                self._pos = end
                break
            if end > pos:
                parts.append(buf[pos:end])
                got += end - pos
                self._pos = end
            if (size >= 0 and got >= size) or self._remaining == 0:
                break
            self._refill()
        if len(parts) == 1:
            return parts[0]
        return b''.join(parts)

    def readlines(self, hint=-1):
        if hint is None:
            hint = -1
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    # -- for the server -------------------------------------------------------------------

    def drain(self, limit_seconds=None):
        """Reads and discards what the app left of the body, so that closing the connection
        cannot reset it (a UNIX socket closed with unread data makes the peer's next read
        fail with ECONNRESET instead of seeing EOF, and the peer may still be writing).
        Returns True when the body was read to its end."""
        self._buf = b''
        self._pos = 0
        if self._remaining <= 0:
            return True
        scratch = bytearray(RECV_SIZE)
        try:
            self._link.arm()
            sock = self._link.sock
            while self._remaining > 0:
                got = sock.recv_into(scratch, min(RECV_SIZE, self._remaining))
                if got == 0:
                    return False
                self._remaining -= got
        except OSError:
            return False
        return True

    @property
    def received(self):
        """Body bytes taken from the connection so far."""
        return self._length - self._remaining

    # -- internals ------------------------------------------------------------------------

    def _read_all(self):
        parts = []
        if self._pos < len(self._buf):
            parts.append(self._buf[self._pos:] if self._pos else self._buf)
        self._buf = b''
        self._pos = 0
        while self._remaining > 0:
            parts.append(self._recv(min(self._remaining, 4 * RECV_SIZE)))
        if len(parts) == 1:
            return parts[0]
        return b''.join(parts)

    def _refill(self):
        self._buf = self._recv(min(self._remaining, RECV_SIZE))
        self._pos = 0

    def _recv(self, size):
        link = self._link
        try:
            if not link.armed:
                link.arm()
            data = link.sock.recv(size)
        except (socket.timeout, BlockingIOError):
            # SO_RCVTIMEO expired: the socket reports EAGAIN.
            raise OSError('timed out after %ss reading the request body: got %d of %d bytes (--socket-timeout)' % (self._timeout, self.received, self._length))
        if not data:
            raise OSError('the peer closed the connection after %d of %d request body bytes' % (self.received, self._length))
        self._remaining -= len(data)
        return data
