"""The worker's command line. Option names and defaults are uWSGI's where uWSGI has the option,
so a master that translates a uWSGI config only has to forward the values."""
import argparse
import json

from .exit_codes import EXIT_USAGE
from .mounts import parse_mount
from .static_map import parse_mapping

#: uWSGI's default --buffer-size: the largest vars block accepted.
DEFAULT_BUFFER_SIZE = 4096
#: uWSGI's default --listen (the accept queue length).
DEFAULT_LISTEN = 100
#: uWSGI's default --socket-timeout, in seconds, for every read and write on a connection.
DEFAULT_SOCKET_TIMEOUT = 4
#: uWSGI's default --worker-reload-mercy: how long a draining worker waits for its requests.
DEFAULT_MERCY = 60
#: The vars block length is a u16: no buffer can usefully be larger.
MAX_BUFFER_SIZE = 65535


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage()
        self.exit(EXIT_USAGE, '%s: error: %s\n' % (self.prog, message))


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError('must be at least 1, got %s' % text)
    return value


def _non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError('must be 0 or more, got %s' % text)
    return value


def _env_pair(text):
    if '=' not in text or text.startswith('='):
        raise argparse.ArgumentTypeError('expected K=V, got %r' % text)
    return text


def build_parser():
    parser = _Parser(
        prog='tsgi_worker.py',
        description='Serve one WSGI application over the uwsgi protocol (the Python worker of tsgi serve).',
        # A prefix of an option must not silently mean the option: the master passes full names.
        allow_abbrev=False,
    )
    where = parser.add_argument_group('socket (exactly one)')
    where.add_argument('--socket', '-s', metavar='PATH', help='UNIX socket path to listen on (HOST:PORT for TCP); replaced if it exists')
    where.add_argument('--fd', type=int, metavar='N', help='accept on the inherited, already bound socket N (listen() is called on it)')
    where.add_argument('--listen', '-l', type=_positive, default=DEFAULT_LISTEN, metavar='N', help='accept queue length (default %(default)s)')
    where.add_argument('--chmod-socket', nargs='?', const='666', metavar='MODE', help='chmod the --socket path (default 666 when given without a value)')

    app = parser.add_argument_group('application')
    app.add_argument('--wsgi-file', '--file', dest='wsgi_file', metavar='FILE', help='run FILE as module uwsgi_file_<mangled path> and serve its callable')
    app.add_argument('--module', '--wsgi', '-w', dest='module', metavar='MOD[:CALLABLE]', help='import MOD and serve CALLABLE (CALLABLE() calls a factory)')
    app.add_argument('--callable', default='application', metavar='NAME', help='name of the WSGI callable (default %(default)s)')
    app.add_argument('--pythonpath', '--python-path', '--pp', dest='pythonpath', action='append', default=[], metavar='DIR', help='add DIR (a glob) to sys.path; repeatable')
    app.add_argument('--chdir', metavar='DIR', help='chdir to DIR before loading the application')
    app.add_argument('--env', action='append', default=[], type=_env_pair, metavar='K=V', help='set an environment variable before loading; repeatable')
    app.add_argument('--need-app', action='store_true', help='exit with status 22 when the application cannot be loaded')
    app.add_argument('--mount', action='append', default=[], metavar='/PREFIX=APP', help='also serve APP (FILE.py, FILE.wsgi or MOD:CALLABLE) under /PREFIX; repeatable')
    app.add_argument('--manage-script-name', action='store_true', help='choose the --mount by the start of PATH_INFO and move it into SCRIPT_NAME')
    app.add_argument('--static-map', action='append', default=[], metavar='/PREFIX=DIR', help='answer GET/HEAD under /PREFIX with the files of DIR; repeatable')

    dev = parser.add_argument_group('development')
    dev.add_argument('--py-autoreload', '--python-autoreload', '--py-auto-reload', '--python-auto-reload', dest='py_autoreload', type=_non_negative, default=0, metavar='SECONDS',
                     help='every SECONDS, reload when the file of a loaded module changed (0: off)')
    dev.add_argument('--py-auto-reload-ignore', '--python-auto-reload-ignore', dest='py_autoreload_ignore', action='append', default=[], metavar='MODULE',
                     help='a module --py-autoreload does not watch; repeatable')

    serving = parser.add_argument_group('serving')
    serving.add_argument('--threads', type=_positive, default=1, metavar='N', help='request threads (default %(default)s)')
    serving.add_argument('--buffer-size', '-b', type=_positive, default=DEFAULT_BUFFER_SIZE, metavar='N', help='largest uwsgi vars block accepted (default %(default)s)')
    serving.add_argument('--socket-timeout', type=_non_negative, default=DEFAULT_SOCKET_TIMEOUT, metavar='SECONDS', help='timeout of each read and write on a connection, 0 for none (default %(default)s)')
    serving.add_argument('--multiprocess', action='store_true', help='set wsgi.multiprocess (the master runs more than one worker)')
    serving.add_argument('--worker-reload-mercy', type=_positive, default=DEFAULT_MERCY, metavar='SECONDS', help='how long SIGTERM/SIGHUP wait for requests in flight (default %(default)s)')

    master = parser.add_argument_group('master (what tsgi serve passes; see reporter.py)')
    master.add_argument('--worker-id', type=_positive, default=1, metavar='N', help="uWSGI's worker id, for the log lines (default %(default)s)")
    master.add_argument('--report-fd', type=int, metavar='N', help='the channel to the master: reports, retire, harakiri notes out; totals in')
    master.add_argument('--report-interval', type=_positive, default=1000, metavar='MS', help='how often the counters are reported (default %(default)s)')
    master.add_argument('--harakiri', type=_positive, metavar='SECONDS', help='kill this worker when a request runs longer')
    master.add_argument('--max-requests', type=_positive, metavar='N', help='ask the master to recycle this worker after N requests')
    master.add_argument('--reload-on-rss', type=_positive, metavar='BYTES', help='ask the master to recycle this worker when its RSS exceeds BYTES')
    master.add_argument('--request-log', type=_json_object, metavar='JSON', help='the request log settings (RequestLogSettings of src/appserver/worker-protocol.ts)')
    return parser


def _json_object(text):
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError('not JSON: %s' % error)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object')
    return value


def parse_options(argv):
    parser = build_parser()
    options = parser.parse_args(argv)
    if (options.socket is None) == (options.fd is None):
        parser.error('give exactly one of --socket PATH and --fd N')
    if options.wsgi_file is not None and options.module is not None:
        parser.error('give at most one of --wsgi-file and --module')
    for text in options.mount:
        try:
            parse_mount(text)
        except ValueError as error:
            parser.error(str(error))
    for text in options.static_map:
        try:
            parse_mapping(text)
        except ValueError as error:
            parser.error(str(error))
    if options.buffer_size > MAX_BUFFER_SIZE:
        # The vars block length is 16 bits: a larger buffer could never be filled.
        options.buffer_size = MAX_BUFFER_SIZE
    if options.chmod_socket is not None:
        try:
            options.chmod_socket = int(options.chmod_socket, 8)
        except ValueError:
            parser.error('--chmod-socket expects an octal mode, got %r' % options.chmod_socket)
    return options
