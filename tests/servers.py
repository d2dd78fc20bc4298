"""Serving the app for real in tests: a listening socket on a port of the tests' own range."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn


def listening_socket() -> socket.socket:
    """A bound, listening socket on the first free port of HOUSING_TEST_PORTS (default
    18870-18879), for a server the test starts (uvicorn takes it as is, or by --fd).

    SO_REUSEADDR, because a server that closed its connections leaves them in TIME_WAIT on
    its port for a minute: without it ten quick tests in a row use up the range."""
    first, last = (int(p) for p in os.environ.get("HOUSING_TEST_PORTS", "18870-18879").split("-"))
    for port in range(first, last + 1):
        try:
            return bound_socket(port)
        except OSError:
            continue
    pytest.fail(f"no free port in {first}-{last} (HOUSING_TEST_PORTS)")


def bound_socket(port: int) -> socket.socket:
    """A listening socket on exactly `port`; OSError when another server holds it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def serving_in_thread(app, sock: socket.socket) -> Iterator[str]:
    """`app` served by uvicorn in a thread on `sock` until the block ends: its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
