#!/usr/bin/env python3
"""The Python worker of `tsgi serve`: serves one WSGI application over the uwsgi protocol,
byte-compatible with `uwsgi --socket`. Run `tsgi_worker.py --help` for the options;
docs/python.md describes the contract with the master.

    python3 python/tsgi_worker.py --socket /tmp/app.sock --wsgi-file app.py --threads 4
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == '__main__':
    if sys.version_info < (3, 8):
        sys.stderr.write('tsgi-python: Python >= 3.8 is required, this is %s\n' % sys.version.split()[0])
        sys.exit(1)
    # The worker's package is imported from next to this file; then that directory leaves
    # sys.path, so the application sees the sys.path uWSGI would give it.
    if sys.path and os.path.abspath(sys.path[0] or '.') == _HERE:
        from tsgi.main import main
        del sys.path[0]
    else:
        sys.path.insert(0, _HERE)
        from tsgi.main import main
        sys.path.remove(_HERE)
    sys.exit(main(sys.argv[1:]))
