"""Reading one uwsgi request packet from a connection (the wire format of uWSGI's
proto/uwsgi.c and core/protocol.c, and of src/protocols/uwsgi.ts on the TypeScript side):

    modifier1:u8  datasize:u16le  modifier2:u8           the 4-byte header
    { keylen:u16le key  vallen:u16le value }*            the vars block, datasize bytes
    body                                                 CONTENT_LENGTH bytes

Vars are decoded as latin-1, one character per byte, which is what PEP 3333 asks of native
strings; the dict keeps the last value of a repeated var, as uWSGI's environ does. Bytes read
past the vars block are the start of the body and are handed to wsgi.input.

Errors raise PacketError, whose message is the log line; the connection is then closed and
nothing is answered (uWSGI does the same: the peer sees the close).
"""
import struct

from .link import DONTWAIT

HEADER = struct.Struct('<BHB')
HEADER_SIZE = 4

#: modifier1 0: a WSGI request.
MODIFIER_WSGI = 0
#: modifier1 30: a WSGI request whose PATH_INFO still starts with SCRIPT_NAME (nginx's
#: `uwsgi_modifier1 30`); the environ builder removes the prefix.
MODIFIER_MANAGE_PATH_INFO = 30
SERVED_MODIFIERS = (MODIFIER_WSGI, MODIFIER_MANAGE_PATH_INFO)
#: modifier2 'K' (0x4b): tsgi's router asks to send its next request on this connection
#: (docs/protocols.md, "Kept router connections"); plain uwsgi peers send 0 and get a close.
KEEP_CONNECTION = 0x4b

#: One recv() for the packet: large enough that a typical request (vars and a small body)
#: arrives in one call.
RECV_SIZE = 65536

#: "GET ", "POST", ... read as a uwsgi header: what an HTTP client on a uwsgi socket looks like.
_HTTP_STARTS = (b'GET ', b'POST', b'PUT ', b'HEAD', b'DELE', b'OPTI', b'PATC', b'CONN', b'TRAC')


class PacketError(Exception):
    """The request cannot be served; str(error) is the line to log."""


class Packet(object):
    __slots__ = ('modifier1', 'modifier2', 'vars', 'rest', 'content_length', 'extra')

    def __init__(self, modifier1, modifier2, variables, rest, content_length, extra=False):
        self.modifier1 = modifier1
        self.modifier2 = modifier2
        #: dict of native str -> native str
        self.vars = variables
        #: body bytes that arrived with the packet (at most content_length of them)
        self.rest = rest
        self.content_length = content_length
        #: bytes arrived past the body (dropped): the connection cannot carry another request
        self.extra = extra


def read_packet(link, buffer_size):
    """Reads one packet from the connection. Returns None when the peer closed without sending
    a byte (a connect-and-close probe), a Packet otherwise; raises PacketError or OSError."""
    sock = link.sock
    if link.armed:
        data = sock.recv(RECV_SIZE)
    else:
        try:
            # Usually the packet is already there: no timeout needed to read it.
            data = sock.recv(RECV_SIZE, DONTWAIT)
        except BlockingIOError:
            link.arm()
            data = sock.recv(RECV_SIZE)
    if not data:
        return None
    while len(data) < HEADER_SIZE:
        link.arm()
        more = sock.recv(RECV_SIZE)
        if not more:
            raise PacketError('truncated uwsgi packet: the peer closed after %d header bytes' % len(data))
        data += more
    modifier1, size, modifier2 = HEADER.unpack_from(data)
    if size > buffer_size:
        # uWSGI's exact line (proto/uwsgi.c), then what it usually means.
        message = 'invalid request block size: %d (max %d)...skip' % (size, buffer_size)
        if data[:4] in _HTTP_STARTS:
            message += '\n(the request starts with %r: an HTTP client is talking to this uwsgi socket)' % data[:4].decode('latin-1')
        raise PacketError(message)
    if modifier1 not in SERVED_MODIFIERS:
        raise PacketError('-- unavailable modifier requested: %d --' % modifier1)
    end = HEADER_SIZE + size
    while len(data) < end:
        link.arm()
        more = sock.recv(max(RECV_SIZE, end - len(data)))
        if not more:
            raise PacketError('truncated uwsgi packet: the peer closed after %d of %d vars bytes' % (len(data) - HEADER_SIZE, size))
        data += more
    variables = parse_vars(data[HEADER_SIZE:end])
    content_length = parse_content_length(variables.get('CONTENT_LENGTH', ''))
    rest = data[end:end + content_length] if len(data) > end else b''
    return Packet(modifier1, modifier2, variables, rest, content_length, len(data) > end + content_length)


def parse_vars(raw):
    """The vars block -> dict. This is the hot path of every request, so the loop has no bounds
    checks: a block whose lengths do not add up either indexes past its end (IndexError), or
    ends somewhere other than its last byte, or yields an empty key, and then the careful parse
    below runs again to say what is wrong, with uWSGI's words. Lengths are read from the bytes
    (indexing bytes gives ints); keys and values are slices of one latin-1 decode of the block,
    so each is a native str without a decode call of its own."""
    block = raw.decode('latin-1')
    variables = {}
    i = 0
    n = len(raw)
    try:
        while i < n:
            key_start = i + 2
            key_end = key_start + raw[i] + (raw[i + 1] << 8)
            value_start = key_end + 2
            i = value_start + raw[key_end] + (raw[key_end + 1] << 8)
            variables[block[key_start:key_end]] = block[value_start:i]
    except IndexError:
        i = -1
    if i != n or '' in variables:
        _explain_vars(raw)
    return variables


def _explain_vars(raw):
    """Raises the PacketError that describes what is wrong with a vars block."""
    i = 0
    n = len(raw)
    while i < n:
        if i + 2 > n:
            raise PacketError('invalid uwsgi request (current strsize: %d). skip.' % (n - i))
        key_start = i + 2
        key_end = key_start + (raw[i] | (raw[i + 1] << 8))
        if key_end == key_start:
            # uWSGI logs this and drops the request (core/protocol.c).
            raise PacketError('uwsgi key cannot be null. skip this var.')
        if key_end + 2 > n:
            raise PacketError('invalid uwsgi request (current strsize: %d). skip.' % (key_end - key_start))
        value_start = key_end + 2
        value_end = value_start + (raw[key_end] | (raw[key_end + 1] << 8))
        if value_end > n:
            raise PacketError('invalid uwsgi request (current strsize: %d). skip.' % (value_end - value_start))
        i = value_end
    raise PacketError('invalid uwsgi request. skip.')


def parse_content_length(text):
    """'' (or absent) is no body. Anything but plain digits is refused: the length frames the
    body, and a guess (uWSGI reads the leading digits) would read the wrong bytes as a body."""
    if not text:
        return 0
    if not text.isdigit() or not text.isascii():
        raise PacketError('invalid CONTENT_LENGTH %r: not a decimal number' % text)
    return int(text)
