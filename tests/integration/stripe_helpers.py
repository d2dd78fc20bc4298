"""A local Stripe-compatible server (localstripe) and a live copy of our app for it to call.

localstripe keeps its objects in memory (and a pickle it never reads back with
--from-scratch), signs the webhooks it sends with the secret registered at
/_config/webhooks/{id}, and serves a stand-in Stripe.js at /js.stripe.com/v3/.
"""

import hashlib
import hmac
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import stripe

from tests.servers import listening_socket, serving_in_thread

WEBHOOK_SECRET = "whsec_test_secret_for_the_local_server"
SECRET_KEY = "sk_test_housing"
PUBLISHABLE_KEY = "pk_test_housing"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then the charge is declined


def wait_for_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def running_localstripe(tmp_dir) -> Iterator[str]:
    # A port of the tests' own range, not the kernel's ephemeral one: polling an ephemeral port
    # nobody listens on can connect to itself (TCP simultaneous open) and look served.
    probe = listening_socket()
    port = probe.getsockname()[1]
    probe.close()  # localstripe binds it itself
    process = subprocess.Popen(
        [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
        cwd=tmp_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def serving(app) -> Iterator[str]:
    """Our app served in a thread on a socket already listening (no port to race for): its URL."""
    with serving_in_thread(app, listening_socket()) as url:
        yield url


@contextmanager
def serving_for_stripe(app, base: str) -> Iterator[str]:
    """The app served for real, with localstripe's webhooks pointed at it: its URL."""
    with serving(app) as url:
        register_webhook(base, f"{url}/api/v1/webhooks/stripe")
        yield url


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory) -> Iterator[str]:
    """localstripe for one test module (import this fixture by name): its base URL."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe")) as base:
        yield base


def stripe_group(base: str, **overrides) -> dict:
    """The `stripe` settings group that points at localstripe on `base`."""
    return {
        "secret_key": SECRET_KEY,
        "publishable_key": PUBLISHABLE_KEY,
        "webhook_secret": WEBHOOK_SECRET,
        "api_base": base,
    } | overrides


def webhooks_only_group() -> dict:
    """A `stripe` settings group for webhooks alone: our webhook secret, an API that nobody answers."""
    return {"secret_key": "sk_test_x", "webhook_secret": WEBHOOK_SECRET, "api_base": "http://127.0.0.1:9"}


def register_webhook(base: str, url: str, secret: str = WEBHOOK_SECRET) -> None:
    """Points localstripe's webhooks at `url` (replacing an earlier registration)."""
    form = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    with urllib.request.urlopen(f"{base}/_config/webhooks/housing", data=form, timeout=10) as answer:
        assert answer.status == 200


def pay_with_card(base: str, intent_id: str, number: str) -> None:
    """What Stripe.js does in the browser: a payment method from the card, then confirm."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": base})
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": method.id})
    client.v1.payment_intents.confirm(intent_id)


def events_of(base: str, intent_id: str) -> list[dict]:
    """localstripe's events about one intent, oldest first, as the JSON it sends."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": base})
    events = client.v1.events.list(params={"limit": 100})
    mine = [
        e for e in (event.to_dict() for event in events.data) if e["data"]["object"].get("id") == intent_id
    ]
    return sorted(mine, key=lambda e: e["created"])


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header for the payload, as Stripe computes it."""
    at = at or int(time.time())
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"
