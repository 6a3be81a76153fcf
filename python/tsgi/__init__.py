"""The Python worker of tsgi: hosts one WSGI application behind the tsgi master.

The master (TypeScript) owns HTTP, routing, harakiri, max-requests, reload and stats; this
package only answers uwsgi-protocol requests on a socket the master gives it, exactly as
`uwsgi --socket` does, so the master's uwsgi client and a real nginx `uwsgi_pass` can both
talk to it. Standard library only, Python >= 3.8.

One concern per module, in the order a request meets them:

    options     the command line (uWSGI's option names)
    loader      --chdir, --env, --pythonpath, then --wsgi-file / --module / --callable
    server      the listening socket, the request threads, signals, graceful stop
    link        one accepted connection and its --socket-timeout, set only when needed
    packet      reading one uwsgi packet: header, vars block
    environ     the PEP 3333 environ built from the vars
    input       wsgi.input: the request body streamed from the connection
    response    start_response, write(), the status line and headers, wsgi.file_wrapper
    request     one connection from packet to close: call the app, iterate, errors, close()
    log         lines on stderr, which the master forwards to its log
    exit_codes  the exit statuses the master reads
"""

VERSION = '0.1.0'
