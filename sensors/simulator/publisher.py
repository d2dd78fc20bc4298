"""Publishing at QoS 1 with paho: the pacing token bucket and a publisher that counts acknowledgements."""

import logging
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger(__name__)


class TokenBucket:
    """Paces to `rate` per second with bursts of up to `burst` (default: 50 ms worth)."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 20)
        self.tokens = self.capacity
        self.clock = clock
        self.last = clock()

    def take(self) -> float:
        """Takes one token; returns how long to wait before sending (0 when one was there).

        Short debts are carried rather than slept, so high rates are not limited by the
        resolution of sleep.
        """
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= 1
        if self.tokens >= 0:
            return 0.0
        wait = -self.tokens / self.rate
        return wait if wait >= 0.002 else 0.0


class PublisherError(RuntimeError):
    """The broker cannot be reached or refused the connection."""


NO_MATCHING_SUBSCRIBERS = 0x10


class Publisher:
    """A paho 2 client that publishes at QoS 1, counting what the broker accepted for delivery.

    MQTT 5 brokers say what became of each message: a PUBACK reason code of 0x80 or more
    is a refusal (e.g. not authorised), 0x10 "no matching subscribers" means the broker
    accepted the message and threw it away (nobody subscribed: with Mosquitto, e.g. right
    after a restart that lost a shared subscription). Only the rest counts as acknowledged.
    An MQTT 3.1.1 broker answers a plain PUBACK in all these cases, so at 3.1.1 a drop
    cannot be seen by the publisher.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        protocol: int = 5,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        max_inflight: int = 20,
        max_queued: int = 10_000,
    ) -> None:
        if protocol not in (4, 5):
            raise ValueError("protocol must be 5 (MQTT 5) or 4 (MQTT 3.1.1)")
        self.host, self.port, self.protocol = host, port, protocol
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"housing-sim-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311,
        )
        self._credentials = (username, password) if username else None
        if self._credentials:
            self.client.username_pw_set(*self._credentials)
        # A small inflight window: paho rescans its queue on every PUBACK, so bigger windows
        # are slower (paho 2.2 against mosquitto: 8.8k msg/s with 20, 4.2k with 1000), and
        # MQTT 5 forbids more than the broker's Receive Maximum (connect() lowers it to
        # that). The send queue behind it is bounded, below paho's 65,535 message ids:
        # publish() answers MQTT_ERR_QUEUE_SIZE when it is full, and we wait for room.
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.client.max_queued_messages_set(max_queued)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self._lock = threading.Condition()
        self._connected = threading.Event()
        self._refusal: str | None = None
        self.published = 0
        self.acknowledged = 0
        self.refused = 0
        self.dropped = 0
        self.backoffs = 0

    # paho's network thread: never let an exception out (it would kill the loop silently).

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                self._refusal = str(reason_code)
                log.error("broker refused the simulator: %s", reason_code)
            self._connected.set()
        except Exception:
            log.exception("on_connect failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.warning("simulator disconnected (%s); paho reconnects and resends", reason_code)
        except Exception:
            log.exception("on_disconnect failed")

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        try:
            with self._lock:
                if reason_code.is_failure:
                    self.refused += 1
                elif reason_code.value == NO_MATCHING_SUBSCRIBERS:
                    self.dropped += 1
                else:
                    self.acknowledged += 1
                self._lock.notify_all()
        except Exception:
            log.exception("on_publish failed")

    def connect(self, timeout: float = 10.0) -> None:
        inflight = self.max_inflight
        if self.protocol == 5:
            inflight = min(inflight, self._receive_maximum(timeout))
        self.client.max_inflight_messages_set(inflight)
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublisherError(f"cannot reach the MQTT broker at {self.host}:{self.port}: {exc}") from exc
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise PublisherError(
                f"the MQTT broker at {self.host}:{self.port} did not answer in {timeout:.0f} s"
            )
        if self._refusal is not None:
            self.close()
            hint = " (an MQTT 3.1.1 broker such as the embedded amqtt needs protocol 4)"
            hint = hint if "protocol" in self._refusal.lower() else ""
            raise PublisherError(f"the MQTT broker at {self.host}:{self.port} refused: {self._refusal}{hint}")

    def _receive_maximum(self, timeout: float) -> int:
        """The broker's MQTT 5 Receive Maximum, read from a short probe connection's CONNACK."""
        answered = threading.Event()
        found = [65535]  # the MQTT 5 default when the broker does not say

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            try:
                found[0] = getattr(properties, "ReceiveMaximum", 65535) if properties else 65535
            finally:
                answered.set()

        probe = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"housing-sim-probe-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if self._credentials:
            probe.username_pw_set(*self._credentials)
        probe.on_connect = on_connect
        try:
            probe.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublisherError(f"cannot reach the MQTT broker at {self.host}:{self.port}: {exc}") from exc
        probe.loop_start()
        try:
            if not answered.wait(timeout):
                raise PublisherError(
                    f"the MQTT broker at {self.host}:{self.port} did not answer an MQTT 5 CONNECT "
                    f"in {timeout:.0f} s (an MQTT 3.1.1 broker such as the embedded amqtt needs protocol 4)"
                )
        finally:
            probe.disconnect()
            probe.loop_stop()
        return max(1, int(found[0]))

    def publish(self, topic: str, payload: bytes, stop: threading.Event | None = None) -> bool:
        """Hands one QoS 1 message to paho; False when `stop` was set while the queue was full."""
        while True:
            info = self.client.publish(topic, payload, qos=1)
            # NO_CONN: paho keeps a QoS 1 message and sends it after reconnecting.
            if info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                with self._lock:
                    self.published += 1
                return True
            if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                raise PublisherError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")
            # The send queue is full: wait until the broker's acknowledgements made room.
            self.backoffs += 1
            room = self.max_queued * 9 // 10
            with self._lock:
                while self.published - self.acknowledged - self.refused - self.dropped > room:
                    if stop is not None and stop.is_set():
                        return False
                    self._lock.wait(0.1)

    def wait_acknowledged(self, timeout: float) -> bool:
        """Waits until the broker has answered every message published; True when it has."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.acknowledged + self.refused + self.dropped < self.published:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
