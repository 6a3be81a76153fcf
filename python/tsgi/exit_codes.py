"""Exit statuses of the worker. The values are the ones src/process/exit-codes.ts gives the
JS workers (uWSGI's where uWSGI has one), so the master reads both kinds of worker the same way."""

#: Stopped on request (SIGTERM) after the requests in flight finished.
EXIT_OK = 0
#: The worker itself could not run: a socket it cannot listen on, a --chdir that fails.
EXIT_FAILURE = 1
#: The command line is wrong (argparse's own status for usage errors).
EXIT_USAGE = 2
#: Stopped by SIGHUP after draining: the master should start a replacement (uWSGI's UWSGI_RELOAD_CODE).
EXIT_RELOAD = 17
#: The application could not be loaded and --need-app was given (uWSGI's UWSGI_FAILED_APP_CODE).
EXIT_FAILED_APP = 22
#: Stopped at once by SIGQUIT, without draining (uWSGI's UWSGI_END_CODE).
EXIT_END = 30
#: The parent process went away; the worker drained and ended itself.
EXIT_ORPHANED = 31
