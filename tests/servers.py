"""Serving the app for real in tests: a listening socket on a port of the tests' own range."""

import os
import socket

import pytest


def listening_socket() -> socket.socket:
    """A bound, listening socket on the first free port of HOUSING_TEST_PORTS (default
    18870-18879), for a server the test starts (uvicorn takes it as is, or by --fd)."""
    first, last = (int(p) for p in os.environ.get("HOUSING_TEST_PORTS", "18870-18879").split("-"))
    for port in range(first, last + 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sock.listen(64)
        return sock
    pytest.fail(f"no free port in {first}-{last} (HOUSING_TEST_PORTS)")
