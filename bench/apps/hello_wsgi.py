# The Python peer of the nginx-uwsgi-python-ref scenario: the smallest WSGI application, with the
# same status, headers and body as bench/apps/hello-tsgi.ts and bench/apps/hello-node.mjs.
# Run by real uWSGI: uwsgi --plugin python3 --socket 127.0.0.1:PORT --wsgi-file bench/apps/hello_wsgi.py

BODY = b"Hello world\n"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
