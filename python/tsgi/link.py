"""One accepted connection: its socket and its kernel timeouts (--socket-timeout), set only
when an operation could block.

A request whose packet and body are already in the socket buffer and whose response fits in
the peer's buffer (most requests) never waits, so it never needs a timeout: setting
SO_RCVTIMEO and SO_SNDTIMEO on every connection costs two system calls, about a tenth of the
worker's time for a small response. So reads of the packet and sends first try without
blocking (MSG_DONTWAIT), and the timeouts are set (`arm()`) before the first operation that
has to wait. Kernel timeouts rather than Python's socket timeouts, which would poll() before
every call; they also bound os.sendfile().
"""
import socket

DONTWAIT = getattr(socket, 'MSG_DONTWAIT', 0)


class Link(object):
    __slots__ = ('sock', 'armed', 'timeouts')

    def __init__(self, sock, timeouts):
        self.sock = sock
        #: the struct timeval for SO_RCVTIMEO/SO_SNDTIMEO, or None for --socket-timeout 0
        self.timeouts = timeouts
        #: nothing left to set: the timeouts are on (or there are none, or MSG_DONTWAIT is
        #: missing, in which case they are set before anything else)
        self.armed = timeouts is None
        if not DONTWAIT and not self.armed:
            self.arm()

    def arm(self):
        if not self.armed:
            self.armed = True
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self.timeouts)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self.timeouts)
