"""The request log of a Python worker: the line src/appserver/request-log.ts writes for a JS
worker, byte for byte (uWSGI's `log_request`), from the same settings (`--log-format` default,
json or a `%(var)` template, --disable-logging with --log-4xx/5xx/slow/zero/big, --log-micros,
--memory-report, --logto's file). The settings arrive as the JSON of RequestLogSettings.

Lines go out with one os.write() each (atomic on the master's pipe, so two request threads
never interleave), to stderr (the master forwards it to its log) or to the --logto file.
"""
import json
import os
import threading
import time

from .reporter import read_memory

_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')


def _cached_by_second(pattern):
    """A strftime of local time that formats each second once: most lines share their second."""
    state = [None, '']

    def format_time(seconds):
        second = int(seconds)
        if second != state[0]:
            state[0] = second
            state[1] = time.strftime(pattern, time.localtime(second))
        return state[1]
    return format_time


def memory_prefix(rss, vsz):
    return '{address space usage: %d bytes/%dMB} {rss usage: %d bytes/%dMB} ' % (vsz, vsz // 1048576, rss, rss // 1048576)


class Facts(object):
    """What a line may say about one request (RequestFacts in request-log.ts)."""

    __slots__ = ('pid', 'wid', 'app_requests', 'total', 'environ', 'vars', 'vars_bytes', 'started', 'method', 'uri', 'protocol',
                 'status', 'body', 'headers', 'header_bytes', 'micros', 'core', 'rss', 'vsz')


def _env(facts, key):
    value = facts.environ.get(key, '')
    return value if type(value) is str else ''


def _default(micros):
    date = _cached_by_second('%a %b %e %H:%M:%S %Y')

    def line(f):
        spent = '%d micros' % round(f.micros) if micros else '%d msecs' % (int(f.micros) // 1000)
        memory = memory_prefix(f.rss, f.vsz) if f.rss is not None else ''
        return ('%s[pid: %d|app: 0|req: %d/%d] %s (%s) {%d vars in %d bytes} [%s] %s %s => generated %d bytes in %s (%s %d) %d headers in %d bytes (1 switches on core %d)'
                % (memory, f.pid, f.app_requests, f.total, _env(f, 'REMOTE_ADDR'), _env(f, 'REMOTE_USER'), f.vars, f.vars_bytes, date(f.started),
                   f.method, f.uri, f.body, spent, f.protocol, f.status, f.headers, f.header_bytes, f.core))
    return line


def _json(f):
    line = {
        'time': time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(f.started)) + '.%03dZ' % (int(f.started * 1000) % 1000),
        'pid': f.pid, 'wid': f.wid, 'app': 0, 'req': f.app_requests, 'total_req': f.total,
        'addr': _env(f, 'REMOTE_ADDR'), 'user': _env(f, 'REMOTE_USER'), 'vars': f.vars, 'pktsize': f.vars_bytes,
        'method': f.method, 'uri': f.uri, 'proto': f.protocol, 'status': f.status, 'rsize': f.body,
        'headers': f.headers, 'hsize': f.header_bytes, 'size': f.body + f.header_bytes,
        'msecs': int(f.micros) // 1000, 'micros': int(round(f.micros)), 'switches': 1, 'core': f.core,
        'host': _env(f, 'HTTP_HOST'), 'uagent': _env(f, 'HTTP_USER_AGENT'), 'referer': _env(f, 'HTTP_REFERER'),
    }
    if f.rss is not None:
        line['rss'] = f.rss
        line['vsz'] = f.vsz
    return json.dumps(line, separators=(',', ':'))


def _ltime(seconds):
    zone = time.strftime('%z', time.localtime(seconds))
    return time.strftime('%d/', time.localtime(seconds)) + _MONTHS[time.localtime(seconds).tm_mon - 1] + time.strftime('/%Y:%H:%M:%S ', time.localtime(seconds)) + zone


def _memory(f):
    return (f.rss, f.vsz) if f.rss is not None else read_memory()


_VARIABLES = {
    'uri': lambda f: f.uri,
    'method': lambda f: f.method,
    'user': lambda f: _env(f, 'REMOTE_USER'),
    'addr': lambda f: _env(f, 'REMOTE_ADDR'),
    'host': lambda f: _env(f, 'HTTP_HOST'),
    'proto': lambda f: f.protocol,
    'uagent': lambda f: _env(f, 'HTTP_USER_AGENT'),
    'referer': lambda f: _env(f, 'HTTP_REFERER'),
    'status': lambda f: f.status,
    'micros': lambda f: int(round(f.micros)),
    'msecs': lambda f: int(f.micros) // 1000,
    'time': lambda f: int(f.started),
    'ctime': lambda f: time.strftime('%a %b %e %H:%M:%S %Y', time.localtime(f.started)),
    'ltime': lambda f: _ltime(f.started),
    'ftime': lambda f: _ltime(f.started),
    'epoch': lambda f: int(time.time()),
    'tmsecs': lambda f: int(f.started * 1000),
    'tmicros': lambda f: int(f.started * 1000000),
    'size': lambda f: f.body + f.header_bytes,
    'rsize': lambda f: f.body,
    'hsize': lambda f: f.header_bytes,
    'cl': lambda f: int(_env(f, 'CONTENT_LENGTH') or 0) if _env(f, 'CONTENT_LENGTH').isdigit() else 0,
    'pid': lambda f: f.pid,
    'wid': lambda f: f.wid,
    'switches': lambda f: 1,
    'vars': lambda f: f.vars,
    'pktsize': lambda f: f.vars_bytes,
    'headers': lambda f: f.headers,
    'core': lambda f: f.core,
    'modifier1': lambda f: 0,
    'modifier2': lambda f: 0,
    'rss': lambda f: _memory(f)[0],
    'vsz': lambda f: _memory(f)[1],
    'rssM': lambda f: _memory(f)[0] // 1048576,
    'vszM': lambda f: _memory(f)[1] // 1048576,
}


def _template(template):
    """uWSGI's log format: `%(name)` variables; an empty or unknown one prints `-`."""
    parts = []
    rest = template
    while True:
        start = rest.find('%(')
        end = rest.find(')', start + 2) if start >= 0 else -1
        if start < 0 or end < 0:
            if rest:
                parts.append(rest)
            break
        if start > 0:
            parts.append(rest[:start])
        name = rest[start + 2:end]
        if name.startswith('var.'):
            parts.append(lambda f, key=name[4:]: _env(f, key))
        else:
            parts.append(_VARIABLES.get(name, lambda f: ''))
        rest = rest[end + 1:]

    def line(f):
        out = []
        for part in parts:
            if type(part) is str:
                out.append(part)
            else:
                value = str(part(f))
                out.append(value if value != '' else '-')
        return ''.join(out)
    return line


def compile_format(format_name, micros):
    if format_name in ('', 'default'):
        return _default(micros)
    if format_name == 'json':
        return _json
    return _template(format_name)


def logs_anything(settings):
    return bool(settings.get('enabled') or settings.get('log4xx') or settings.get('log5xx') or settings.get('logZero')
                or settings.get('logSlowMs') is not None or settings.get('logBigBytes') is not None)


class RequestLog(object):
    def __init__(self, settings, worker_id, other_requests):
        self.settings = settings
        self.enabled = bool(settings.get('enabled'))
        self.worker_id = worker_id
        #: requests finished by the other workers (the reporter's view of the master's totals)
        self.other_requests = other_requests
        self.memory_report = bool(settings.get('memoryReport'))
        self.format = compile_format(settings.get('format', 'default'), bool(settings.get('micros')))
        self.path = settings.get('file')
        self.fd = 2
        self.fd_lock = threading.Lock()
        if self.path:
            self.reopen()

    def reopen(self):
        """Opens (again, after a rotation: SIGUSR1 to the master) the --logto file."""
        if not self.path:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with self.fd_lock:
            old, self.fd = self.fd, fd
        if old != 2:
            os.close(old)

    def wants(self, status, body, micros):
        if self.enabled:
            return True
        s = self.settings
        if s.get('log4xx') and 400 <= status <= 499:
            return True
        if s.get('log5xx') and 500 <= status <= 599:
            return True
        if s.get('logSlowMs') is not None and micros / 1000 >= s['logSlowMs']:
            return True
        if s.get('logZero') and body == 0:
            return True
        if s.get('logBigBytes') is not None and body >= s['logBigBytes']:
            return True
        return False

    def write(self, core, environ, response, seconds, failed, finished):
        """The line of a finished request, if the settings want it."""
        app_failed = failed and response.app_headers is None
        status = 500 if app_failed or not response.status else int(response.status[:3])
        micros = seconds * 1000000
        body = response.sent
        if not self.wants(status, body, micros):
            return
        f = Facts()
        f.pid = os.getpid()
        f.wid = self.worker_id
        f.app_requests = core.app_requests
        f.total = self.other_requests() + finished
        f.environ = environ
        f.vars = core.vars
        f.vars_bytes = core.vars_bytes
        f.started = core.started_wall
        f.method = _env(f, 'REQUEST_METHOD')
        f.uri = _env(f, 'REQUEST_URI') or _env(f, 'PATH_INFO')
        f.protocol = _env(f, 'SERVER_PROTOCOL')
        f.status = status
        f.body = body
        headers = None if app_failed else response.app_headers
        if headers is None:
            f.headers = 0
            f.header_bytes = 0
        else:
            # The header block as uWSGI counts it: status line, `Name: value\r\n` each, blank line.
            size = len(f.protocol) + 1 + len(response.status) + 4
            for name, value in headers:
                size += len(name) + len(value) + 4
            f.headers = len(headers)
            f.header_bytes = size
        f.micros = micros
        f.core = core.index
        if self.memory_report:
            f.rss, f.vsz = read_memory()
        else:
            f.rss = f.vsz = None
        data = (self.format(f) + '\n').encode('utf-8', 'replace')
        with self.fd_lock:
            try:
                os.write(self.fd, data)
            except OSError:
                pass
