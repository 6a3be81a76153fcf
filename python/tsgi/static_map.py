"""uWSGI's --static-map /PREFIX=DIR inside the worker, in front of the application, as uWSGI
checks its static maps in the worker before the request reaches the Python plugin:

  - only GET and HEAD; the original PATH_INFO (before --manage-script-name moves a mountpoint
    into SCRIPT_NAME) must start with PREFIX;
  - DIR + the rest of the path must be a regular file that stays inside DIR once symlinks and
    '..' are resolved (uWSGI's realpath check); anything else falls through to the next mapping,
    then to the application;
  - Content-Type from the system's mime.types (Python's mimetypes reads /etc/mime.types, the
    file uWSGI's --mimefile defaults to), Content-Length, Last-Modified; If-Modified-Since
    not older than the file gets a 304.
The file is returned through wsgi.file_wrapper, so the worker sends it with sendfile().
"""
import email.utils
import mimetypes
import os
import stat
import sys

_FS_ENCODING = sys.getfilesystemencoding()


def parse_mapping(text):
    """'/static=DIR' -> (prefix, realpath of DIR); ValueError for anything else."""
    prefix, equals, directory = text.partition('=')
    if not equals or not prefix or not directory:
        raise ValueError('--static-map expects /PREFIX=DIR, got %r' % text)
    return prefix, os.path.realpath(directory)


class StaticMap(object):
    def __init__(self, mappings, app):
        self.mappings = list(mappings)
        self.app = app
        self.types = mimetypes.MimeTypes()

    def __call__(self, environ, start_response):
        method = environ.get('REQUEST_METHOD')
        if method == 'GET' or method == 'HEAD':
            path = environ.get('PATH_INFO', '')
            for prefix, root in self.mappings:
                found = self._find(path, prefix, root)
                if found is not None:
                    return self._serve(environ, start_response, found[0], found[1], method)
        return self.app(environ, start_response)

    def _find(self, path, prefix, root):
        if not path.startswith(prefix):
            return None
        # PATH_INFO holds the request's bytes as latin-1 (PEP 3333); the file system wants them back.
        rest = path[len(prefix):].encode('latin-1').decode(_FS_ENCODING, 'surrogateescape')
        candidate = os.path.realpath(os.path.join(root, rest.lstrip('/')))
        if not candidate.startswith(root + os.sep):
            return None
        try:
            info = os.stat(candidate)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        return candidate, info

    def _serve(self, environ, start_response, filename, info, method):
        mtime = int(info.st_mtime)
        last_modified = email.utils.formatdate(mtime, usegmt=True)
        since = environ.get('HTTP_IF_MODIFIED_SINCE')
        if since and _not_older(since, mtime):
            start_response('304 Not Modified', [('Last-Modified', last_modified)])
            return []
        content_type = self.types.guess_type(filename, strict=False)[0] or 'application/octet-stream'
        try:
            handle = open(filename, 'rb')
        except OSError:
            return self.app(environ, start_response)
        start_response('200 OK', [
            ('Content-Type', content_type),
            ('Content-Length', str(info.st_size)),
            ('Last-Modified', last_modified),
        ])
        if method == 'HEAD':
            handle.close()
            return []
        wrapper = environ.get('wsgi.file_wrapper')
        if wrapper is not None:
            return wrapper(handle, 65536)
        return _FileIterator(handle)


def _not_older(since, mtime):
    try:
        parsed = email.utils.parsedate_tz(since)
        return parsed is not None and email.utils.mktime_tz(parsed) >= mtime
    except (TypeError, ValueError, OverflowError):
        return False


class _FileIterator(object):
    def __init__(self, handle):
        self.handle = handle

    def __iter__(self):
        while True:
            block = self.handle.read(65536)
            if not block:
                return
            yield block

    def close(self):
        self.handle.close()
