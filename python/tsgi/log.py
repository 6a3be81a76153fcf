"""Lines on stderr. The master forwards the worker's stderr to its log, so this is the whole
logging story: one write per message (under a lock, so lines of two request threads never
interleave) and tracebacks formatted the way Python prints them."""
import os
import sys
import threading
import traceback

_lock = threading.Lock()


def log(message):
    """Writes `message` (one or more lines) to stderr in one go."""
    if not message.endswith('\n'):
        message += '\n'
    with _lock:
        try:
            sys.stderr.write(message)
            sys.stderr.flush()
        except (OSError, ValueError):
            # stderr is gone (the master died): nothing left to tell anyone.
            pass


def log_exception(context, exc=None):
    """`context` on one line, then the traceback of `exc` (default: the one being handled)."""
    if exc is None:
        exc = sys.exc_info()[1]
    text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log('%s\n%s' % (context, text))


def prefix():
    return 'tsgi-python[%d]' % os.getpid()
