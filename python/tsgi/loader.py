"""Loading the application the way uWSGI's python plugin does (plugins/python/pyloader.c and
python_plugin.c), so an app that starts under `uwsgi --wsgi-file` starts here unchanged:

  --chdir DIR      chdir before anything is imported
  --env K=V        os.environ, before anything is imported
  '.' and then each --pythonpath are inserted at the front of sys.path (uWSGI's
                   init_uwsgi_vars: so the last --pythonpath given is searched first); a
                   --pythonpath value is a glob, as in uWSGI's uwsgi_opt_pythonpath
  --wsgi-file F    F is executed as module `uwsgi_file_<F with '.' and '/' as '_', minus a
                   trailing _py>` (uWSGI's uwsgi_pythonize), registered in sys.modules so that
                   Flask(__name__) finds its root path; a directory means its __init__.py
  --module M[:C]   importlib.import_module(M); C, else --callable, else `application`;
                   C ending in "()" is a factory called once (uWSGI's "quick callable");
                   M containing '/', or an existing file ending in .py, is loaded as a
                   --wsgi-file (uWSGI would fail to import it)

Failures raise AppLoadError carrying the lines to print; the caller decides between exiting
(--need-app) and serving 500s.
"""
import glob
import importlib
import os
import sys
import types

from .log import log


class AppLoadError(Exception):
    """The application could not be loaded. `summary` names what was loaded and why it failed;
    `exc` is the exception raised by the application's code, if any (its traceback is logged)."""

    def __init__(self, summary, exc=None):
        Exception.__init__(self, summary)
        self.summary = summary
        self.exc = exc


def prepare_process(options):
    """--chdir, --env and sys.path, in uWSGI's order. Raises OSError for a --chdir that fails."""
    if options.chdir:
        os.chdir(options.chdir)
    for pair in options.env:
        key, _, value = pair.partition('=')
        os.environ[key] = value
    sys.path.insert(0, '.')
    for pattern in options.pythonpath:
        matches = sorted(glob.glob(pattern)) or [pattern]
        for path in matches:
            sys.path.insert(0, path)
            log('added %s to pythonpath.' % path)


def pythonize(filename):
    """uWSGI's uwsgi_pythonize(): the module name part of `uwsgi_file_<...>`."""
    for scheme in ('sym://', 'http://', 'data://'):
        if filename.startswith(scheme):
            filename = filename[len(scheme):]
            break
    name = filename.replace('.', '_').replace('/', '_')
    if name.endswith('_py'):
        name = name[:-3]
    return name


def describe(options):
    """How the log names the application: the option and its value."""
    if options.wsgi_file is not None:
        return '--wsgi-file %s' % options.wsgi_file
    if options.module is not None:
        return '--module %s' % options.module
    if getattr(options, 'mount', None):
        return ', '.join('--mount %s' % text for text in options.mount)
    return 'no --wsgi-file or --module given'


def load_app(options):
    """Returns the WSGI callable, or raises AppLoadError."""
    if options.wsgi_file is not None:
        return load_file(options.wsgi_file, options.callable)
    if options.module is not None:
        spec = options.module
        module_name, colon, attribute = spec.partition(':')
        # A path cannot be a module name; `mysite.wsgi` (Django) is a module, not a file.
        if '/' in module_name or (module_name.endswith('.py') and os.path.isfile(module_name)):
            return load_file(module_name, attribute if colon else options.callable)
        return load_module(module_name, attribute if colon else options.callable)
    raise AppLoadError('no application given (use --wsgi-file FILE or --module MOD[:CALLABLE])')


def load_file(filename, callable_name):
    path = filename
    if os.path.isdir(path):
        path = os.path.join(path, '__init__.py')
    try:
        with open(path, 'rb') as source_file:
            source = source_file.read()
    except OSError as error:
        # uWSGI's wording first, so searches for it still find the line.
        raise AppLoadError('failed to open python file %s: %s' % (filename, error.strerror or error))
    module_name = 'uwsgi_file_' + pythonize(filename)
    module = types.ModuleType(module_name)
    module.__file__ = path
    sys.modules[module_name] = module
    try:
        code = compile(source, path, 'exec')
        exec(code, module.__dict__)
    except BaseException as error:  # noqa: B902 - SystemExit at import time is a load failure too
        # As PyImport_ExecCodeModule does: a module that failed to run is not left behind.
        sys.modules.pop(module_name, None)
        raise AppLoadError('unable to load %s: %s' % (filename, _one_line(error)), error)
    return _find_callable(module, callable_name, 'file %s' % filename)


def load_module(module_name, callable_name):
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:  # noqa: B902
        raise AppLoadError('unable to import module %s: %s' % (module_name, _one_line(error)), error)
    return _find_callable(module, callable_name, 'module %s' % module_name)


def _find_callable(module, callable_name, where):
    factory = callable_name.endswith('()')
    name = callable_name[:-2] if factory else callable_name
    if not hasattr(module, name):
        # uWSGI: unable to find "application" callable in file %s
        raise AppLoadError('unable to find "%s" callable in %s' % (name, where))
    app = getattr(module, name)
    if factory:
        try:
            app = app()
        except BaseException as error:  # noqa: B902
            raise AppLoadError('the factory %s() in %s raised %s' % (name, where, _one_line(error)), error)
    if not callable(app):
        raise AppLoadError('"%s" must be a callable object in %s (it is a %s)' % (callable_name, where, type(app).__name__))
    return app


def _one_line(error):
    text = str(error)
    return '%s: %s' % (type(error).__name__, text) if text else type(error).__name__
