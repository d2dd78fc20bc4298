"""A stand-in for Payme's checkout (checkout.paycom.uz), from Payme's public docs: the payer's page
and the Merchant API calls Payme makes to the merchant while the payer pays.

- `GET /<base64 of "m=<merchant id>;ac.<field>=<account>;a=<tiyin>;c=<return url>;l=<uz|ru|en>">`
  (the GET checkout; `c` and `l` optional, `ct` and `cr` accepted and ignored): checks the link
  (its merchant, an account field, a positive whole amount), asks the merchant
  CheckPerformTransaction {amount, account} and shows the amount with "Pay" and "Cancel", or
  the merchant's refusal (its `message.en`); a malformed link is a 400 page.
- "Pay" (a POST to the same address): CreateTransaction {id: a fresh 24-hex id, time: now in
  ms, amount, account}, then PerformTransaction {id}; then 303 to `c`.
- "Cancel": the payer gives up after Payme opened the transaction (the card entered, the SMS
  code never confirmed): CreateTransaction, then CancelTransaction {id, reason:
  `state.cancel_reason`, 3 "transaction execution error" by default}; then 303 to `c`.

Each call is a JSON-RPC POST {"id", "method", "params"} to `state.merchant_url` with Basic auth
"Paycom:<key>"; `state.calls` records each with the answer. A refusal or an answer that is not
Payme's JSON-RPC shape stops the payment on an error page (no redirect), as Payme would.
"""

import base64
import binascii
import html
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import requests
from fastapi import FastAPI, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tests.servers import listening_socket, serving_in_thread

MERCHANT_ID = "65f1a2b3c4d5e6f7a8b9c0d1"
KEY = "standin-payme-key"
LANGUAGES = {"uz", "ru", "en"}
KNOWN = {"m", "a", "c", "l", "ct", "cr"}  # besides ac.<field>


@dataclass
class PaymeState:
    merchant_id: str = MERCHANT_ID
    key: str = KEY
    merchant_url: str = ""  # our endpoint, e.g. http://127.0.0.1:18961/api/v1/merchant/payme; set once served
    account_field: str = "account_number"
    cancel_reason: int = 3
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 0

    def point_at(self, site: str) -> None:
        """Sends the calls to the merchant endpoint of our app at `site` (its base URL)."""
        self.merchant_url = f"{site}/api/v1/merchant/payme"

    def methods(self) -> list[str]:
        with self.lock:
            return [call["method"] for call in self.calls]


def payme_group(checkout_url: str, **overrides: Any) -> dict[str, Any]:
    """The `payme` settings group for this stand-in at `checkout_url`."""
    return {"merchant_id": MERCHANT_ID, "key": KEY, "checkout_url": checkout_url} | overrides


class Refused(Exception):
    """The merchant refused a call, or answered something Payme would not understand."""


@dataclass(frozen=True)
class Link:
    merchant_id: str
    account: dict[str, str]
    amount: int
    return_url: str | None
    language: str


def parse_link(encoded: str, state: PaymeState) -> Link:
    """The checkout link's parameters; ValueError saying what is wrong with it."""
    try:
        text = base64.b64decode(encoded.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("the link is not base64 of the parameters") from exc
    params: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        if not sep or not name:
            raise ValueError(f"{part!r} is not name=value")
        if name in params:
            raise ValueError(f"{name} is given twice")
        if name not in KNOWN and not name.startswith("ac."):
            raise ValueError(f"unknown parameter {name}")
        params[name] = value
    if params.get("m") != state.merchant_id:
        raise ValueError(f"unknown merchant {params.get('m')!r}")
    account = {name[3:]: value for name, value in params.items() if name.startswith("ac.")}
    if list(account) != [state.account_field] or not account[state.account_field]:
        raise ValueError(f"the account must be ac.{state.account_field}, got {sorted(account)}")
    amount = params.get("a", "")
    if not (amount.isascii() and amount.isdigit()) or int(amount) <= 0:
        raise ValueError(f"the amount must be a whole number of tiyin, got {amount!r}")
    language = params.get("l", "ru")
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    return Link(state.merchant_id, account, int(amount), params.get("c") or None, language)


def call(state: PaymeState, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One Merchant API call as Payme makes it: the result, or Refused with the merchant's words."""
    with state.lock:
        state._next_id += 1
        request_id = state._next_id
    auth = base64.b64encode(f"Paycom:{state.key}".encode()).decode()
    body = {"id": request_id, "method": method, "params": params}
    try:
        response = requests.post(
            state.merchant_url, json=body, headers={"Authorization": f"Basic {auth}"}, timeout=10
        )
        answer = response.json()
    except (requests.RequestException, ValueError) as exc:
        answer = {"transport": f"{type(exc).__name__}: {exc}"}
        response = None
    with state.lock:
        state.calls.append(
            {
                "method": method,
                "params": params,
                "status": response.status_code if response else None,
                "answer": answer,
            }
        )
    if response is None or response.status_code != 200 or not isinstance(answer, dict):
        raise Refused(f"{method}: the merchant answered HTTP {response and response.status_code}: {answer}")
    if answer.get("id") != request_id:
        raise Refused(f"{method}: the answer's id is {answer.get('id')!r}, not {request_id}")
    if "error" in answer:
        error = answer["error"]
        message = error.get("message") if isinstance(error, dict) else None
        words = message.get("en") if isinstance(message, dict) else message
        raise Refused(f"{method}: {words} (code {error.get('code') if isinstance(error, dict) else error})")
    if not isinstance(answer.get("result"), dict):
        raise Refused(f"{method}: no result in {answer}")
    return answer["result"]


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>"
        f"<title>{html.escape(title)} · Payme (stand-in)</title>"
        "<style>body{font-family:sans-serif;margin:1rem;max-width:30rem}button{font-size:1.1rem;"
        "padding:.6rem 1.2rem;margin:.5rem .5rem 0 0}.amount{font-size:1.6rem;font-weight:700}</style>"
        f"</head><body><p>Payme · checkout (stand-in)</p><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _som(tiyin: int) -> str:
    return f"{tiyin // 100:,}.{tiyin % 100:02d} UZS"


def payme_checkout_app(state: PaymeState) -> FastAPI:
    app = FastAPI()

    @app.get("/{encoded:path}", response_class=HTMLResponse)
    def checkout(encoded: str) -> Response:
        try:
            link = parse_link(encoded, state)
        except ValueError as exc:
            return _page("Invalid checkout link", f"<p id='problem'>{html.escape(str(exc))}</p>", 400)
        try:
            call(state, "CheckPerformTransaction", {"amount": link.amount, "account": link.account})
        except Refused as exc:
            return _page("Payment not possible", f"<p id='problem'>{html.escape(str(exc))}</p>", 200)
        account = html.escape(next(iter(link.account.values())))
        return _page(
            "Pay",
            f"<p>Personal account <strong id='account'>{account}</strong></p>"
            f"<p class='amount' id='amount'>{_som(link.amount)}</p>"
            "<form method='post'>"
            "<button type='submit' name='action' value='pay'>Pay</button>"
            "<button type='submit' name='action' value='cancel'>Cancel</button></form>",
        )

    @app.post("/{encoded:path}", response_class=HTMLResponse)
    def finish(encoded: str, action: Annotated[str, Form()] = "") -> Response:
        try:
            link = parse_link(encoded, state)
        except ValueError as exc:
            return _page("Invalid checkout link", f"<p id='problem'>{html.escape(str(exc))}</p>", 400)
        if action not in ("pay", "cancel"):
            return _page("Invalid request", "<p id='problem'>action must be pay or cancel</p>", 400)
        transaction = secrets.token_hex(12)
        try:
            call(
                state,
                "CreateTransaction",
                {
                    "id": transaction,
                    "time": int(time.time() * 1000),
                    "amount": link.amount,
                    "account": link.account,
                },
            )
            if action == "pay":
                call(state, "PerformTransaction", {"id": transaction})
            else:
                call(state, "CancelTransaction", {"id": transaction, "reason": state.cancel_reason})
        except Refused as exc:
            return _page("Payment failed", f"<p id='problem'>{html.escape(str(exc))}</p>")
        if link.return_url is None:
            done = "Paid" if action == "pay" else "Cancelled"
            return _page(done, f"<p id='transaction'>{transaction}</p>")
        return RedirectResponse(link.return_url, status_code=303)

    return app


@contextmanager
def running_payme_checkout(state: PaymeState) -> Iterator[str]:
    """The stand-in served on a port of HOUSING_TEST_PORTS until the block ends: its base URL
    (the `checkout_url` setting)."""
    with serving_in_thread(payme_checkout_app(state), listening_socket()) as url:
        yield url


def link_params(link: str, checkout_url: str) -> dict[str, str]:
    """A checkout link's parameters, decoded as the stand-in reads them (for tests of our links)."""
    encoded = link.removeprefix(checkout_url.rstrip("/") + "/")
    text = base64.b64decode(encoded.encode(), validate=True).decode()
    return dict(part.partition("=")[::2] for part in text.split(";"))
