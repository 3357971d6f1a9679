"""Start one SDK worker through the job's fork server (feedline_beam.local_runner) and exit with
its exit code. Beam runs this as the worker's command (``python -S _fork_client.py SOCKET``), with
the worker's environment (control and logging endpoints, pipeline options). Standard library
only: it must start in milliseconds."""

import json
import os
import socket
import sys

conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect(sys.argv[1])
conn.sendall(json.dumps(dict(os.environ)).encode())
conn.shutdown(socket.SHUT_WR)
code = conn.recv(1)  # the worker holds this connection until it exits
sys.exit(code[0] if code else 1)
