"""The listening socket, the request threads, signals and the graceful stop.

Threads: --threads N request threads (even N=1: the main thread stays free for signals and
for watching the parent). An idle thread takes the accept lock, waits for a connection, and
releases the lock once it has one; so at most one thread per worker waits in accept(), and a
worker whose threads are all busy leaves new connections in the shared accept queue for the
other workers (uWSGI's thunder lock gives the same property).

The listening socket is non-blocking, and a waiting thread polls it together with a wake-up
pipe, so a stop never has to close or shut down a socket the master shares with other workers.

Kept connections: tsgi's router may ask to send request after request on one connection
(packet.KEEP_CONNECTION). Between requests such a connection waits in the same poller as the
listener (epoll, one-shot, so exactly one thread takes it when its next packet arrives), and
the threads serve whichever connection has a request. A worker keeps at most KEPT_PER_THREAD
per thread; past that it answers and closes, and the router's next connection goes to
whichever worker accepts it, which spreads kept connections over the workers.

Signals (the meanings of src/appserver/worker.ts, which follow uWSGI's):
  SIGTERM   stop accepting, finish the requests in flight, exit 0
  SIGHUP    the same, exit 17 (the master starts a replacement: a reload)
  SIGQUIT   exit at once with 30
  SIGINT    default disposition: the process ends at once, even when a request thread holds
            the interpreter in C code
  SIGUSR2   print every thread's stack on stderr (faulthandler), to see where a stuck
            request is before harakiri kills it
A drain that outlasts --worker-reload-mercy exits anyway, with the same code. When the parent
process goes away (the master was killed), the worker drains and exits 31.
"""
import errno
import faulthandler
import os
import select
import signal
import socket
import _socket
import stat
import sys
import threading
import time

from .exit_codes import EXIT_END, EXIT_OK, EXIT_ORPHANED, EXIT_RELOAD
from .link import DONTWAIT
from .log import log, prefix
from .request import serve_connection

#: accept() errors that concern one connection, or are transient: keep serving.
_ACCEPT_RETRY = (errno.ECONNABORTED, errno.EPROTO, errno.EINTR, errno.EPERM)
#: out of descriptors or memory: wait a little before trying again instead of spinning.
_ACCEPT_BACKOFF = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
#: how often the main thread checks that its parent is still there.
PARENT_CHECK_SECONDS = 1.0
#: kept router connections per request thread: two, so that the next request is already
#: waiting when a response ends (one would leave the thread idle for the round trip)
KEPT_PER_THREAD = 2
#: what a stopping worker sends on a kept connection instead of a response (docs/protocols.md):
#: the request the router may have sent on it was not read, so it can go to another worker
GOODBYE = b'HTTP/1.1 503 Service Unavailable\r\nTsgi-Retry: 1\r\nContent-Length: 0\r\n\r\n'
#: how long a stopping worker waits for the router to close the connections it said GOODBYE on
RETIRE_SECONDS = 1.0
_ONESHOT_IN = getattr(select, 'EPOLLIN', 1) | getattr(select, 'EPOLLONESHOT', 0)


class _Poll(object):
    """select.poll with epoll's poll() signature, where there is no epoll (no kept connections)."""

    def __init__(self):
        self._poll = select.poll()
        self.register = self._poll.register
        self.modify = self._poll.modify
        self.unregister = self._poll.unregister

    def poll(self, timeout=-1):
        return self._poll.poll(None if timeout < 0 else timeout * 1000)


def open_listener(options):
    """The listening socket: --socket PATH|HOST:PORT (created here), or --fd N (inherited)."""
    if options.fd is not None:
        sock = socket.socket(fileno=options.fd)
        # The master may hand over a bound socket that nobody listens on yet (Node's
        # createServerHandle); listen() on a listening socket only updates its backlog.
        sock.listen(options.listen)
        return sock, False
    address = options.socket
    if address.startswith('unix:'):
        address = address[len('unix:'):]
    if '/' not in address and ':' in address:
        host, _, port = address.rpartition(':')
        host = host.strip('[]') or '0.0.0.0'
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(options.listen)
        return sock, False
    # uWSGI unlinks whatever is at the path before bind(): the path belongs to this server.
    try:
        if stat.S_ISSOCK(os.lstat(address).st_mode):
            os.unlink(address)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address)
    if options.chmod_socket is not None:
        os.chmod(address, options.chmod_socket)
    sock.listen(options.listen)
    return sock, True


class Server(object):
    def __init__(self, listener, ctx, threads, mercy, unlink_path=None):
        self.listener = listener
        self.ctx = ctx
        self.thread_count = threads
        self.mercy = mercy
        self.unlink_path = unlink_path
        self.stopping = False
        self.exit_code = EXIT_OK
        self.accept_lock = threading.Lock()
        self.threads = []
        self.wake_read, self.wake_write = os.pipe()
        self.stop_event = threading.Event()
        listener.setblocking(False)
        self.listener_fd = listener.fileno()
        #: kept connections (tsgi's router sends request after request on them) need epoll's
        #: one-shot mode, so that one thread takes each; elsewhere every connection is closed
        self.keeping = hasattr(select, 'epoll')
        self.poller = select.epoll() if self.keeping else _Poll()
        self.poller.register(self.listener_fd, select.POLLIN)
        self.poller.register(self.wake_read, select.POLLIN)
        #: fd -> kept connection waiting in the poller for its next packet
        self.parked = {}
        #: fd -> every kept connection, parked or being served
        self.owned = {}
        #: parked fds the poller reported, not yet taken (under accept_lock)
        self.ready = []
        #: try accept() before polling (under accept_lock): see _next
        self.accept_first = False
        self.keep_limit = KEPT_PER_THREAD * threads
        #: kept connections told GOODBYE, closed once the router closed its side
        self.retiring = []
        #: with one thread a parked connection can stay armed (level-triggered): nobody else
        #: could take it while it is served, and re-arming costs an epoll_ctl() per request
        self.rearm = threads > 1 or not self.keeping

    # -- lifecycle ------------------------------------------------------------------------

    def start(self):
        for index in range(self.thread_count):
            thread = threading.Thread(target=self._thread_main, args=(index,), name='tsgi-request-%d' % (index + 1))
            thread.daemon = True
            thread.start()
            self.threads.append(thread)

    def install_signals(self):
        signal.signal(signal.SIGTERM, lambda signum, frame: self.stop(EXIT_OK, 'SIGTERM'))
        signal.signal(signal.SIGHUP, lambda signum, frame: self.stop(EXIT_RELOAD, 'SIGHUP'))
        signal.signal(signal.SIGQUIT, lambda signum, frame: self._end_now())
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        faulthandler.register(signal.SIGUSR2, all_threads=True)

    def run(self):
        """The main thread's loop: wait for a stop, watch the parent, then drain. Returns the
        exit code."""
        parent = os.getppid()
        while not self.stop_event.wait(PARENT_CHECK_SECONDS):
            if parent != 1 and os.getppid() != parent:
                log('%s: the parent process %d is gone: finishing the requests in flight and exiting' % (prefix(), parent))
                self.stop(EXIT_ORPHANED, None)
        return self._drain()

    def stop(self, code, reason):
        """Stop accepting; the main loop then waits for the requests in flight."""
        if self.stopping:
            return
        self.stopping = True
        self.exit_code = code
        if reason:
            log('%s: %s received: finishing the requests in flight, then exiting' % (prefix(), reason))
        try:
            os.write(self.wake_write, b'x')
        except OSError:
            pass
        self._close_listener()
        self.stop_event.set()

    def _close_listener(self):
        try:
            # Another process's copy of a shared socket would keep it in the poller.
            self.poller.unregister(self.listener_fd)
        except (OSError, ValueError, KeyError):
            pass
        # At once, not after the drain: a socket this worker created then refuses new
        # connections (or they find no file) instead of queueing where nobody will accept
        # them; closing this process's copy of a shared socket leaves it to the others.
        # A request thread still polling it was woken by the pipe and sees `stopping`.
        try:
            self.listener.close()
        except OSError:
            pass
        if self.unlink_path:
            try:
                os.unlink(self.unlink_path)
            except OSError:
                pass
            self.unlink_path = None

    def _drain(self):
        deadline = time.monotonic() + self.mercy
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        busy = [thread for thread in self.threads if thread.is_alive()]
        if busy:
            log('%s: %d request(s) still running after --worker-reload-mercy %ds: exiting anyway' % (prefix(), len(busy), self.mercy))
        self._close_listener()
        self._retire_parked()
        self._finish_retiring()
        log('%s: ...The work of process %d is done. Seeya!' % (prefix(), os.getpid()))
        if busy:
            # Request threads are still inside the app: interpreter shutdown would wait for
            # nothing useful and could crash in their C code.
            sys.stdout.flush()
            os._exit(self.exit_code)
        return self.exit_code

    def _end_now(self):
        try:
            sys.stderr.write('%s: SIGQUIT received: exiting at once\n' % prefix())
            sys.stderr.flush()
        finally:
            os._exit(EXIT_END)

    # -- request threads -------------------------------------------------------------------

    def _thread_main(self, index):
        ctx = self.ctx
        core = ctx.accounting.cores[index] if ctx.accounting is not None else None
        while not self.stopping:
            with self.accept_lock:
                conn = self._next()
            if conn is None:
                continue
            kept = conn.fileno() in self.owned
            keep = False
            try:
                if not kept:
                    self._configure(conn)
                # A new connection becomes a kept one only while this worker holds fewer than
                # its share; past it the router gets a close and connects again, and the new
                # connection goes to whichever worker accepts it (that keeps workers balanced).
                may_keep = self.keeping and not self.stopping and (kept or len(self.owned) < self.keep_limit)
                keep = serve_connection(conn, ctx, may_keep, core)
            except BaseException as error:  # noqa: B902 - a request thread must survive anything
                log('%s: unexpected error serving a connection: %r' % (prefix(), error))
            if not keep:
                self._drop(conn, kept)
            elif self.stopping:
                # The router was told it may send another request here.
                self._drop(conn, kept, close=False)
                self._retire(conn)
            else:
                self._park(conn, kept)
        self._retire_parked()

    def _next(self):
        """The next connection with a request: a kept one whose next packet arrived, or a new
        one. None when stopping."""
        poller = self.poller
        ready = self.ready
        listener_fd = self.listener_fd
        while not self.stopping:
            if ready:
                conn = self.parked.pop(ready.pop(), None)
                if conn is not None:
                    return conn
                continue
            if self.accept_first:
                # The last connection was a new one (nginx, plain uwsgi clients: one per
                # request): under load the next is already queued, and accept() alone finds it.
                conn = self._accept()
                if conn is not None:
                    return conn
                self.accept_first = False
            incoming = False
            for fd, _ in poller.poll():
                if fd == listener_fd:
                    incoming = True
                elif fd in self.parked:
                    ready.append(fd)
            if ready:
                # Kept connections first: their request is already there, a new one may not be.
                continue
            if incoming and not self.stopping:
                conn = self._accept()
                if conn is not None:
                    self.accept_first = True
                    return conn
        return None

    def _park(self, conn, kept):
        """Waits for the next packet on `conn` in the poller (one-shot: one thread takes it)."""
        fd = conn.fileno()
        self.parked[fd] = conn
        if not kept:
            self.owned[fd] = conn
            self.poller.register(fd, _ONESHOT_IN if self.rearm else select.POLLIN)
        elif self.rearm:
            self.poller.modify(fd, _ONESHOT_IN)

    def _drop(self, conn, kept, close=True):
        if kept:
            fd = conn.fileno()
            self.owned.pop(fd, None)
            try:
                self.poller.unregister(fd)
            except (OSError, ValueError, KeyError):
                pass
        if close:
            try:
                conn.close()
            except OSError:
                pass

    def _retire(self, conn):
        """Ends a kept connection the router may be sending a request on right now: GOODBYE
        says that no request on it was read, so the router sends that request again elsewhere
        (a bare close would look like a worker that died in the request). The connection is
        closed once the router closed its side (_finish_retiring), so that its bytes arrive."""
        try:
            conn.send(GOODBYE, DONTWAIT)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.retiring.append(conn)

    def _retire_parked(self):
        for fd in list(self.parked):
            conn = self.parked.pop(fd, None)
            if conn is not None:
                self._drop(conn, True, close=False)
                self._retire(conn)

    def _finish_retiring(self):
        """Waits (RETIRE_SECONDS at most) for the router to close the retired connections,
        reading and discarding what it sent meanwhile, then closes them."""
        waiting = {}
        poller = select.poll()
        for conn in self.retiring:
            waiting[conn.fileno()] = conn
            poller.register(conn.fileno(), select.POLLIN)
        self.retiring = []
        deadline = time.monotonic() + RETIRE_SECONDS
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for fd, _ in poller.poll(left * 1000):
                conn = waiting[fd]
                try:
                    data = conn.recv(65536, DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b''
                if not data:
                    poller.unregister(fd)
                    del waiting[fd]
                    conn.close()
        for conn in waiting.values():
            conn.close()

    def _accept(self):
        listener = self.listener
        # What socket.accept() does, minus its Python-level wrapper class that every request
        # would pay for: the C socket type, built from the accepted fd with the listener's
        # family, type and protocol.
        try:
            fd, _ = listener._accept()
            return _socket.socket(listener.family, listener.type, listener.proto, fd)
        except BlockingIOError:
            # Another worker took it.
            return None
        except OSError as error:
            if self.stopping:
                return None
            if error.errno in _ACCEPT_BACKOFF or error.errno not in _ACCEPT_RETRY:
                # Out of descriptors or memory, or something unexpected: wait a little
                # instead of spinning.
                log('%s: accept(): %s' % (prefix(), error))
                time.sleep(0.1)
            return None

    def _configure(self, conn):
        if conn.gettimeout() is not None:
            # Only when an app called socket.setdefaulttimeout(): accepted sockets are
            # otherwise blocking already, and this costs two fcntl() calls.
            conn.settimeout(None)
        if self.ctx.tcp:
            # Streamed chunks leave as they are written (the end of the response is the close).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
