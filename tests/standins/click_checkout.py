"""A stand-in for Click's checkout (my.click.uz/services/pay), from Click's public docs: the
payer's page and the SHOP-API calls (Prepare, Complete) Click makes to the merchant.

- `GET /services/pay?service_id=..&merchant_id=..&amount=..&transaction_param=..&return_url=..`
  (the pay button's link; `return_url` optional, `merchant_user_id` and `card_type` accepted
  and ignored): checks the service and merchant, the amount (som, more than 0, at most 2
  decimals) and the account (`transaction_param`), and shows the amount with "Pay" and
  "Cancel"; a malformed link is a 400 page.
- "Pay" (a POST to the same address): Prepare (action 0), then Complete (action 1, error 0)
  with the prepare id the merchant gave; then 303 to `return_url`.
- "Cancel": Click could not take the money after Prepare (the payer backed out): Prepare,
  then Complete with the negative error `state.cancel_error`, which the docs say the
  merchant must answer by cancelling the payment (and error -9); then 303 to `return_url`.

Each call is a form POST to `state.prepare_url` / `state.complete_url` with click_trans_id,
service_id, click_paydoc_id, merchant_trans_id (the account), [merchant_prepare_id,] amount
(as in the link), action, error, error_note, sign_time ("YYYY-MM-DD HH:mm:ss") and sign_string
= md5(click_trans_id + service_id + SECRET_KEY + merchant_trans_id [+ merchant_prepare_id] +
amount + action + sign_time). `state.calls` records each with the answer; an answer with an
error (but -9 to a cancelling Complete) or not in Click's shape stops on an error page.
"""

import hashlib
import html
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import requests
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tests.servers import listening_socket, serving_in_thread

SERVICE_ID = "41234"
MERCHANT_ID = "18765"
SECRET_KEY = "standin-click-secret"
PAY_PATH = "/services/pay"
LINK_FIELDS = ("service_id", "merchant_id", "amount", "transaction_param", "return_url")
IGNORED = ("merchant_user_id", "card_type")


@dataclass
class ClickState:
    service_id: str = SERVICE_ID
    merchant_id: str = MERCHANT_ID
    secret_key: str = SECRET_KEY
    prepare_url: str = ""  # our endpoints, e.g. http://127.0.0.1:18961/api/v1/merchant/click/prepare
    complete_url: str = ""
    cancel_error: int = -5017
    cancel_note: str = "Payment cancelled"
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(2_100_000_001))

    def point_at(self, site: str) -> None:
        """Sends the calls to the merchant's endpoints at `site` (our app's base URL)."""
        self.prepare_url = f"{site}/api/v1/merchant/click/prepare"
        self.complete_url = f"{site}/api/v1/merchant/click/complete"

    def actions(self) -> list[int]:
        with self.lock:
            return [int(call["form"]["action"]) for call in self.calls]


def click_group(checkout_url: str, **overrides: Any) -> dict[str, Any]:
    """The `click` settings group for this stand-in at `checkout_url` (its /services/pay)."""
    return {
        "service_id": SERVICE_ID,
        "merchant_id": MERCHANT_ID,
        "secret_key": SECRET_KEY,
        "checkout_url": checkout_url,
    } | overrides


class Refused(Exception):
    """The merchant answered with an error, or something Click would not understand."""


@dataclass(frozen=True)
class Link:
    amount: str  # as the link wrote it: the calls send it back as is
    account: str
    return_url: str | None


def parse_link(query: dict[str, list[str]], state: ClickState) -> Link:
    """The pay link's parameters; ValueError saying what is wrong with it."""
    unknown = set(query) - set(LINK_FIELDS) - set(IGNORED)
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)}")
    twice = [name for name, values in query.items() if len(values) > 1]
    if twice:
        raise ValueError(f"{twice} given twice")
    one = {name: values[0] for name, values in query.items()}
    if one.get("service_id") != state.service_id:
        raise ValueError(f"unknown service_id {one.get('service_id')!r}")
    if one.get("merchant_id") != state.merchant_id:
        raise ValueError(f"unknown merchant_id {one.get('merchant_id')!r}")
    amount = one.get("amount", "")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        value = Decimal(0)
    if (
        not value.is_finite()
        or value <= 0
        or value != value.quantize(Decimal("0.01"))
        or "e" in amount.lower()
    ):
        raise ValueError(f"the amount must be som with at most 2 decimals, got {amount!r}")
    account = one.get("transaction_param", "")
    if not account:
        raise ValueError("transaction_param (the account) is missing")
    return Link(amount, account, one.get("return_url") or None)


def sign(state: ClickState, form: dict[str, str]) -> str:
    parts = [form["click_trans_id"], form["service_id"], state.secret_key, form["merchant_trans_id"]]
    if form["action"] == "1":
        parts.append(form["merchant_prepare_id"])
    parts += [form["amount"], form["action"], form["sign_time"]]
    return hashlib.md5("".join(parts).encode()).hexdigest()  # noqa: S324 - Click signs with md5


def call(state: ClickState, url: str, form: dict[str, str], *, expect_error: int = 0) -> dict[str, Any]:
    """One SHOP-API call as Click makes it: the answer, or Refused with the merchant's words."""
    form = form | {"sign_string": sign(state, form)}
    try:
        response = requests.post(url, data=form, timeout=10)
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        response, answer = None, {"transport": f"{type(exc).__name__}: {exc}"}
    with state.lock:
        state.calls.append(
            {"form": form, "status": response.status_code if response else None, "answer": answer}
        )
    if response is None or response.status_code != 200 or not isinstance(answer, dict):
        raise Refused(f"action {form['action']}: HTTP {response and response.status_code}: {answer}")
    if answer.get("error") != expect_error:
        raise Refused(f"action {form['action']}: error {answer.get('error')!r} {answer.get('error_note')!r}")
    if str(answer.get("click_trans_id")) != form["click_trans_id"]:
        raise Refused(f"action {form['action']}: the answer is about {answer.get('click_trans_id')!r}")
    return answer


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>"
        f"<title>{html.escape(title)} · Click (stand-in)</title>"
        "<style>body{font-family:sans-serif;margin:1rem;max-width:30rem}button{font-size:1.1rem;"
        "padding:.6rem 1.2rem;margin:.5rem .5rem 0 0}.amount{font-size:1.6rem;font-weight:700}</style>"
        f"</head><body><p>Click · checkout (stand-in)</p><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def click_checkout_app(state: ClickState) -> FastAPI:
    app = FastAPI()

    @app.get(PAY_PATH, response_class=HTMLResponse)
    def checkout(request: Request) -> Response:
        try:
            link = parse_link(parse_qs(request.url.query, keep_blank_values=True), state)
        except ValueError as exc:
            return _page("Invalid payment link", f"<p id='problem'>{html.escape(str(exc))}</p>", 400)
        return _page(
            "Pay",
            f"<p>Personal account <strong id='account'>{html.escape(link.account)}</strong></p>"
            f"<p class='amount' id='amount'>{html.escape(link.amount)} UZS</p>"
            "<form method='post'>"
            "<button type='submit' name='action' value='pay'>Pay</button>"
            "<button type='submit' name='action' value='cancel'>Cancel</button></form>",
        )

    @app.post(PAY_PATH, response_class=HTMLResponse)
    def finish(request: Request, action: Annotated[str, Form()] = "") -> Response:
        try:
            link = parse_link(parse_qs(request.url.query, keep_blank_values=True), state)
        except ValueError as exc:
            return _page("Invalid payment link", f"<p id='problem'>{html.escape(str(exc))}</p>", 400)
        if action not in ("pay", "cancel"):
            return _page("Invalid request", "<p id='problem'>action must be pay or cancel</p>", 400)
        with state.lock:
            trans_id, paydoc_id = next(state._ids), next(state._ids)
        base = {
            "click_trans_id": str(trans_id),
            "service_id": state.service_id,
            "click_paydoc_id": str(paydoc_id),
            "merchant_trans_id": link.account,
            "amount": link.amount,
            "error": "0",
            "error_note": "Success",
            "sign_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        }
        try:
            prepared = call(state, state.prepare_url, base | {"action": "0"})
            complete = base | {"action": "1", "merchant_prepare_id": str(prepared.get("merchant_prepare_id"))}
            if action == "pay":
                call(state, state.complete_url, complete)
            else:
                failed = complete | {"error": str(state.cancel_error), "error_note": state.cancel_note}
                call(state, state.complete_url, failed, expect_error=-9)
        except Refused as exc:
            return _page("Payment failed", f"<p id='problem'>{html.escape(str(exc))}</p>")
        if link.return_url is None:
            return _page("Paid" if action == "pay" else "Cancelled", f"<p id='transaction'>{trans_id}</p>")
        return RedirectResponse(link.return_url, status_code=303)

    return app


@contextmanager
def running_click_checkout(state: ClickState) -> Iterator[str]:
    """The stand-in served on a port of HOUSING_TEST_PORTS until the block ends: the address of
    its checkout (the `checkout_url` setting)."""
    with serving_in_thread(click_checkout_app(state), listening_socket()) as url:
        yield url + PAY_PATH


def link_params(link: str) -> dict[str, str]:
    """A pay link's query, one value per name (for tests of our links)."""
    return {
        name: values[0] for name, values in parse_qs(urlsplit(link).query, keep_blank_values=True).items()
    }
