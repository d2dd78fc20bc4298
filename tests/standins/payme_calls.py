"""Payme's side of its Merchant API, for tests: the JSON-RPC calls Payme makes to our endpoint,
written from its public docs (developer.help.paycom.uz, "Merchant API").

Payme posts `{"id": <number>, "method": ..., "params": {...}}` with Basic `Paycom:<cashbox key>`
and reads every answer as HTTP 200 JSON-RPC. `Payme(post)` sends through any transport: a
TestClient (`Payme.through(client)`) or a real HTTP server (`Payme.at(url)`); each call returns
the `Answer`, after checking the HTTP status is 200 and the body is JSON-RPC.
"""

import base64
import itertools
import json
import secrets
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from housing import clock

URL = "/api/v1/merchant/payme"
KEY = "payme-cashbox-key-for-tests-0123456789"
MERCHANT_ID = "5e730e8e0b852a417aa49ceb"
FIELD = "account_number"

Post = Callable[[bytes, dict[str, str]], tuple[int, bytes]]


def payme_group(**overrides: Any) -> dict[str, Any]:
    """The `payme` settings group of a server that takes Payme (HOUSING_PAYME__*)."""
    return {"merchant_id": MERCHANT_ID, "key": KEY, "account_field": FIELD} | overrides


def basic(key: str = KEY, login: str = "Paycom") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{key}".encode()).decode()}


def transaction_id() -> str:
    """A new Payme transaction id (24 hexadecimal characters, as Payme's are)."""
    return secrets.token_hex(12)


def ms(moment: datetime) -> int:
    return round(moment.astimezone(UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]

    @property
    def result(self) -> dict[str, Any]:
        assert "result" in self.body, self.body
        return self.body["result"]

    @property
    def code(self) -> int | None:
        return self.body["error"]["code"] if "error" in self.body else None

    @property
    def data(self) -> Any:
        return self.body["error"]["data"]


class Payme:
    def __init__(self, post: Post, *, key: str = KEY, field: str = FIELD) -> None:
        self.post = post
        self.key = key
        self.field = field
        self._ids = itertools.count(1)

    @classmethod
    def through(cls, client: Any, **kw: Any) -> "Payme":
        def post(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            response = client.post(URL, content=body, headers=headers)
            return response.status_code, response.content

        return cls(post, **kw)

    @classmethod
    def at(cls, base_url: str, **kw: Any) -> "Payme":
        def post(body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
            request = urllib.request.Request(base_url + URL, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()

        return cls(post, **kw)

    def send(self, body: bytes, headers: dict[str, str] | None = None) -> Answer:
        """Any body, signed in as Payme unless `headers` say otherwise; the answer, checked to be 200 JSON-RPC."""
        headers = basic(self.key) | {"Content-Type": "application/json; charset=UTF-8"} | (headers or {})
        status, content = self.post(body, headers)
        assert status == 200, (status, content[:500])
        answer = json.loads(content)
        assert answer["jsonrpc"] == "2.0" and ("result" in answer) != ("error" in answer), answer
        if "error" in answer:
            assert set(answer["error"]["message"]) == {"ru", "uz", "en"}, answer
        return Answer(answer)

    def call(self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
        answer = self.send(body, headers)
        assert answer.body["id"] == request_id, answer.body
        return answer

    def account(self, number: str) -> dict[str, str]:
        return {self.field: number}

    def check_perform(self, account: str, amount: int) -> Answer:
        return self.call("CheckPerformTransaction", {"amount": amount, "account": self.account(account)})

    def create(self, tid: str, account: str, amount: int, time: datetime | None = None) -> Answer:
        params = {
            "id": tid,
            "time": ms(time or clock.now()),
            "amount": amount,
            "account": self.account(account),
        }
        return self.call("CreateTransaction", params)

    def perform(self, tid: str) -> Answer:
        return self.call("PerformTransaction", {"id": tid})

    def cancel(self, tid: str, reason: int = 5) -> Answer:
        return self.call("CancelTransaction", {"id": tid, "reason": reason})

    def check(self, tid: str) -> Answer:
        return self.call("CheckTransaction", {"id": tid})

    def statement(self, start: int, end: int) -> Answer:
        return self.call("GetStatement", {"from": start, "to": end})

    def pay(self, account: str, amount: int, tid: str | None = None) -> str:
        """The whole documented sequence: check, create, perform; Payme's transaction id."""
        tid = tid or transaction_id()
        assert self.check_perform(account, amount).result == {"allow": True}
        assert self.create(tid, account, amount).result["state"] == 1
        assert self.perform(tid).result["state"] == 2
        return tid
