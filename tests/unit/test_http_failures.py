"""A gateway call that fails counts by whether the request had left: real failures from
`requests` against local sockets (nothing listening, never answering, hanging up)."""

import socket
import threading

import pytest
import requests

from housing.notifications.channels.http import http_failure
from tests.servers import listening_socket


def _failure(url: str) -> requests.RequestException:
    with pytest.raises(requests.RequestException) as raised:
        requests.post(url, data={"message": "hi"}, timeout=0.5)
    return raised.value


def _serve_once(sock: socket.socket, *, hang_up: bool) -> threading.Event:
    """Accepts one connection, reads the request, then hangs up or keeps silent until released."""
    done = threading.Event()

    def serve() -> None:
        connection, _ = sock.accept()
        connection.recv(65536)
        if not hang_up:
            done.wait(5)
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return done


def test_nothing_listening_is_temporary():
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/send"
    sock.close()
    outcome = http_failure(_failure(url), "gateway")
    assert not outcome.unknown and not outcome.permanent and "unreachable" in outcome.error


@pytest.mark.parametrize("hang_up", [False, True], ids=["no-answer", "hung-up"])
def test_a_request_that_left_without_an_answer_is_unknown(hang_up):
    sock = listening_socket()
    done = _serve_once(sock, hang_up=hang_up)
    try:
        outcome = http_failure(_failure(f"http://127.0.0.1:{sock.getsockname()[1]}/send"), "gateway")
    finally:
        done.set()
        sock.close()
    assert outcome.unknown and not outcome.sent and "after the request was sent" in outcome.error
