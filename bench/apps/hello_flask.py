# The Flask peer of bench/apps/hello_wsgi.py for the flask-hello scenario: one route, the same
# status, headers and body. `application` is the name uWSGI's --wsgi-file and tsgi look for.
from flask import Flask, Response

application = app = Flask(__name__)


@app.route('/')
def hello():
    return Response(b'Hello world\n', content_type='text/plain')
