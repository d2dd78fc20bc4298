"""An embedded MQTT broker for `housing demo`: amqtt on 127.0.0.1, for when no broker is configured.

MQTT 3.1.1 only; a child process by default (`mode="thread"` runs it in a thread). Why it
is configured as it is (anonymous sessions, shared subscriptions, queues, throughput):
docs/ingest.md, "The embedded broker".
"""

import argparse
import asyncio
import contextlib
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin
from amqtt.session import Session

log = logging.getLogger(__name__)

READY_LINE = "housing-broker-ready"
LOCALHOST = "127.0.0.1"


class BrokerError(RuntimeError):
    """The embedded broker could not start (port taken, bad configuration) or died."""


class OpenLocalAuth(BaseAuthPlugin):
    """Admits every client, with or without a user name, as a named (non-anonymous) session.

    For the local demo only: the broker listens on 127.0.0.1 and holds made-up readings.
    Never use it on an address other machines can reach.
    """

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session: Session) -> bool:
        return True


def broker_config(host: str, port: int) -> dict[str, Any]:
    """amqtt configuration: one TCP listener on host:port, open access, nothing else."""
    return {
        # amqtt binds 0.0.0.0 unless told otherwise; the demo broker must stay local.
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": -1}},
        # No event/packet logging and no $SYS publisher: one auth plugin, anonymous allowed.
        "plugins": {"sensors.ingest.embedded_broker.OpenLocalAuth": {}},
        # Sessions of disconnected clients are kept (no expiry): the demo is short-lived.
        "session_expiry_interval": None,
    }


async def serve(host: str, port: int, stop: asyncio.Event, on_ready: Any = None) -> None:
    """Runs the broker until `stop` is set; calls on_ready() once the listener is bound."""
    broker = Broker(broker_config(host, port))
    await broker.start()
    try:
        if on_ready is not None:
            on_ready()
        await stop.wait()
    finally:
        await broker.shutdown()


class EmbeddedBroker:
    """amqtt on 127.0.0.1:port, as a context manager:

        with EmbeddedBroker(port=1883) as broker:
            ...  # connect paho with protocol=MQTTv311 to broker.host, broker.port

    start() returns once the broker accepts connections (or raises BrokerError);
    stop() shuts it down and waits for it.
    """

    def __init__(
        self,
        port: int = 1883,
        *,
        host: str = LOCALHOST,
        mode: Literal["process", "thread"] = "process",
        ready_timeout: float = 20.0,
    ) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread', not {mode!r}")
        self.host = host
        self.port = port
        self.mode = mode
        self.ready_timeout = ready_timeout
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self._thread is not None and self._thread.is_alive() and self._ready.is_set()

    def start(self) -> None:
        if self._process is not None or self._thread is not None:
            raise BrokerError("the embedded broker is already started")
        if self.mode == "process":
            self._start_process()
        else:
            self._start_thread()
        log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) listening on %s:%s", self.host, self.port)

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            process, self._process = self._process, None
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        if self._thread is not None:
            thread, self._thread = self._thread, None
            if self._loop is not None and self._stop is not None and not self._loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop ended on its own meanwhile
                    self._loop.call_soon_threadsafe(self._stop.set)
            thread.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- a child process

    def _start_process(self) -> None:
        command = [sys.executable, "-m", __name__, "--host", self.host, "--port", str(self.port)]
        # stdout carries only the readiness line; the child's log goes to our stderr.
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self._process = process
        assert process.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0:
                if selector.select(remaining):
                    line = process.stdout.readline()
                    if line.strip() == READY_LINE:
                        return
                    if line == "":  # the child ended before it was ready
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            process.wait(5)
                        break
        code = process.poll()
        self.stop()
        if code is None:
            raise BrokerError(f"the embedded broker did not start within {self.ready_timeout:.0f} s")
        raise BrokerError(
            f"the embedded broker exited with status {code}; is port {self.port} on {self.host} already in use?"
        )

    # -- a thread with its own event loop

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run_loop, name="embedded-mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.ready_timeout) or self._error is not None:
            error = self._error
            self.stop()
            if error is not None:
                raise BrokerError(f"the embedded broker did not start: {error}") from error
            raise BrokerError(f"the embedded broker did not start within {self.ready_timeout:.0f} s")

    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._stop = asyncio.Event()
            loop.run_until_complete(serve(self.host, self.port, self._stop, on_ready=self._ready.set))
        except BaseException as exc:
            self._error = exc
            self._ready.set()  # wake start() so that it reports the error
            log.exception("embedded broker failed")
        finally:
            loop.close()


def _main(argv: list[str] | None = None) -> None:
    """The child process: serve until SIGTERM/SIGINT or until the parent closes our stdin."""
    parser = argparse.ArgumentParser(description="Embedded amqtt broker for `housing demo`")
    parser.add_argument("--host", default=LOCALHOST)
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="broker: %(levelname)s %(name)s %(message)s")
    # Connection tasks cancelled at shutdown are reported by asyncio as errors, and every
    # late PUBACK (see above) as a warning: noise for a demo.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    logging.getLogger("amqtt.mqtt.protocol.handler").setLevel(logging.ERROR)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

        def parent_gone() -> None:
            if not os.read(stdin, 4096):  # EOF: the parent closed the pipe or died
                loop.remove_reader(stdin)
                stop.set()

        stdin = sys.stdin.fileno()
        loop.add_reader(stdin, parent_gone)
        await serve(args.host, args.port, stop, on_ready=lambda: print(READY_LINE, flush=True))

    try:
        asyncio.run(run())
    except Exception as exc:
        print(f"broker: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    _main()
