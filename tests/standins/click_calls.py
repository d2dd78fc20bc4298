"""Click's calls to our SHOP-API, as Click makes them (docs.click.uz, "Click-API - Request"):
form-encoded POSTs of Prepare (action 0) and Complete (action 1), signed with our secret key.

The signature is written here on its own from Click's documented formula, not taken from
the code under test: md5 hex of click_trans_id + service_id + SECRET_KEY + merchant_trans_id
[+ merchant_prepare_id on Complete] + amount + action + sign_time.
"""

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

SERVICE_ID = "31415"
MERCHANT_ID = "27182"
SECRET_KEY = "click-test-secret-Zk9"
PREPARE_URL = "/api/v1/merchant/click/prepare"
COMPLETE_URL = "/api/v1/merchant/click/complete"
SIGN_TIME = "2026-11-05 14:30:00"  # Tashkent: 09:30 UTC

_ids = itertools.count(7_000_000_001)


def click_group(**overrides: Any) -> dict[str, Any]:
    """HOUSING_CLICK__* for a server Click calls (make_settings(url, click=click_group()))."""
    return {"service_id": SERVICE_ID, "merchant_id": MERCHANT_ID, "secret_key": SECRET_KEY} | overrides


def click_sign(form: dict[str, str], *, secret_key: str = SECRET_KEY, complete: bool | None = None) -> str:
    """Click's sign_string for the form; Complete's formula when its action is 1 (or `complete`)."""
    complete = form.get("action") == "1" if complete is None else complete
    text = (
        form["click_trans_id"]
        + form["service_id"]
        + secret_key
        + form["merchant_trans_id"]
        + (form["merchant_prepare_id"] if complete else "")
        + form["amount"]
        + form["action"]
        + form["sign_time"]
    )
    # Click's protocol fixes md5; hostile text (a lone surrogate) is signed too.
    return hashlib.md5(text.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324


def prepare_form(
    account: str,
    amount: str,
    /,
    *,
    click_trans_id: int | str | None = None,
    sign_time: str = SIGN_TIME,
    secret_key: str = SECRET_KEY,
    **changes: str,
) -> dict[str, str]:
    """A signed Prepare; `changes` replace fields before it is signed."""
    trans_id = str(click_trans_id if click_trans_id is not None else next(_ids))
    form = {
        "click_trans_id": trans_id,
        "service_id": SERVICE_ID,
        "click_paydoc_id": str(int(trans_id) + 1_000_000_000) if trans_id.isdigit() else "1",
        "merchant_trans_id": account,
        "amount": amount,
        "action": "0",
        "error": "0",
        "error_note": "Success",
        "sign_time": sign_time,
    } | changes
    form["sign_string"] = click_sign(form, secret_key=secret_key)
    return form


def complete_form(
    prepared: dict[str, str],
    merchant_prepare_id: int | str,
    /,
    *,
    error: str = "0",
    error_note: str = "Success",
    secret_key: str = SECRET_KEY,
    **changes: str,
) -> dict[str, str]:
    """The signed Complete of a Prepare's form; `changes` replace fields before it is signed."""
    form = {key: value for key, value in prepared.items() if key != "sign_string"}
    form |= {
        "action": "1",
        "merchant_prepare_id": str(merchant_prepare_id),
        "error": error,
        "error_note": error_note,
    } | changes
    form["sign_string"] = click_sign(form, secret_key=secret_key)
    return form


@dataclass
class Click:
    """Click calling one server: each call's answer is kept in `answers`."""

    client: Any  # a TestClient, or anything with .post(url, data=...)
    answers: list[dict[str, Any]] = field(default_factory=list)

    def post(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        response = self.client.post(url, data=form)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        answer = response.json()
        self.answers.append(answer)
        return answer

    def prepare(self, form: dict[str, str]) -> dict[str, Any]:
        return self.post(PREPARE_URL, form)

    def complete(self, form: dict[str, str]) -> dict[str, Any]:
        return self.post(COMPLETE_URL, form)

    def pay(self, account: str, amount: str, **changes: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Prepare, then Complete with the merchant_prepare_id it was given."""
        prepared = prepare_form(account, amount, **changes)
        first = self.prepare(prepared)
        assert first["error"] == 0, first
        return first, self.complete(complete_form(prepared, first["merchant_prepare_id"]))
