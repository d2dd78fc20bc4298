"""Click's SHOP-API on the wire: the Prepare and Complete calls, their signature, the error codes
and the answers (docs/click.md). Pure: no I/O.

A call is read in a fixed order, so that each fault gets the same code every time:
1. the form: readable (UTF-8, url-encoded), each field once, every required field there and
   not empty, no control characters in any field Click signs, none longer than MAX_FIELD
   (otherwise -8, "Error in request from click");
2. the signature over the fields exactly as sent (otherwise -1);
3. the action the route is for: 0 on Prepare, 1 on Complete (otherwise -3);
4. the values: ids are positive integers of at most 19 digits, the amount is som with at
   most two decimals, the time is "YYYY-MM-DD HH:MM:SS", the service is ours (otherwise -8).
`error` and `error_note` are not signed (Click's formula leaves them out); the note is only
kept for the log, so control characters in it are replaced rather than refused.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from housing.validation import FIRST_YEAR, INT64_MAX, LAST_YEAR, MONEY_MAX

MAX_FIELDS = 50  # a Click call has 11; a body with more fields is not one
MAX_FIELD = 256  # characters of any one field Click signs
MAX_NOTE = 300  # characters of Click's error_note kept for the log


class Action(IntEnum):
    prepare = 0
    complete = 1


class ClickError(IntEnum):
    """The codes we answer with (Click's "errors returned by the supplier's system")."""

    success = 0
    sign_check_failed = -1
    incorrect_amount = -2
    action_not_found = -3
    already_paid = -4
    user_does_not_exist = -5
    transaction_does_not_exist = -6
    failed_to_update_user = -7
    bad_request = -8
    transaction_cancelled = -9


ERROR_NOTES: dict[ClickError, str] = {
    ClickError.success: "Success",
    ClickError.sign_check_failed: "SIGN CHECK FAILED!",
    ClickError.incorrect_amount: "Incorrect parameter amount",
    ClickError.action_not_found: "Action not found",
    ClickError.already_paid: "Already paid",
    ClickError.user_does_not_exist: "User does not exist",
    ClickError.transaction_does_not_exist: "Transaction does not exist",
    ClickError.failed_to_update_user: "Failed to update user",
    ClickError.bad_request: "Error in request from click",
    ClickError.transaction_cancelled: "Transaction cancelled",
}

SIGNED = ("click_trans_id", "service_id", "merchant_trans_id", "amount", "action", "sign_time")
# Required on both routes: what the signature covers, and the signature itself.
REQUIRED = (*SIGNED, "sign_string")
OPTIONAL = ("click_paydoc_id", "error", "error_note")  # `error` is required on Complete
FIELDS = (*REQUIRED, *OPTIONAL, "merchant_prepare_id")

_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_ERROR = re.compile(r"-?[0-9]{1,9}", re.ASCII)
_AMOUNT = re.compile(r"(?P<som>[0-9]{1,13})(?:\.(?P<tiyin>[0-9]{1,2}))?", re.ASCII)
_SIGN_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", re.ASCII)
# Every C0 and C1 control character (tab and line breaks too), DEL, lone surrogates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class Refused(Exception):
    """A call answered with a Click error code; `detail` says why, for the note and the log."""

    def __init__(self, error: ClickError, detail: str = "") -> None:
        super().__init__(detail or ERROR_NOTES[error])
        self.error = error
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Call:
    """A Prepare or Complete call, its signature checked and its values read."""

    action: Action
    click_trans_id: int
    service_id: int
    click_paydoc_id: int | None
    merchant_trans_id: str
    merchant_prepare_id: int | None  # Complete only
    amount_minor: int
    error: int  # Click's own status of the payment: below 0 on Complete, Click cancels it
    error_note: str
    sign_time: datetime  # as sent: Click's local time, no zone

    @property
    def external_id(self) -> str:
        """The transaction's key in our books: Click's click_trans_id."""
        return str(self.click_trans_id)


def parse_form(body: bytes) -> dict[str, str]:
    """A url-encoded body as {name: value}; Refused(-8) when it is not one Click could have sent.

    Fields we do not know are ignored (Click may add some); one of ours given twice is refused,
    since nobody can say which of the two Click signed.
    """
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(ClickError.bad_request, "the body is not a url-encoded form in UTF-8") from exc
    return fields_of(pairs)


def fields_of(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Our fields from a form's (name, value) pairs: each at most once (Refused -8 otherwise)."""
    if len(pairs) > MAX_FIELDS:
        raise Refused(ClickError.bad_request, f"more than {MAX_FIELDS} fields")
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in FIELDS:
            continue
        if name in fields:
            raise Refused(ClickError.bad_request, f"{name} is given more than once")
        fields[name] = value
    return fields


def read_call(fields: Mapping[str, str], *, route: Action, service_id: str, secret_key: str) -> Call:
    """The call the route received, or Refused with its code (the order is in the module's docstring)."""
    complete = fields.get("action") == str(int(Action.complete)) or (
        route is Action.complete and fields.get("action") != str(int(Action.prepare))
    )
    required = (*REQUIRED, "merchant_prepare_id", "error") if complete else REQUIRED
    for name in required:
        value = fields.get(name)
        if value is None or value == "":
            raise Refused(ClickError.bad_request, f"{name} is missing")
    for name in (*required, "click_paydoc_id"):
        value = fields.get(name, "")
        if len(value) > MAX_FIELD:
            raise Refused(ClickError.bad_request, f"{name} is longer than {MAX_FIELD} characters")
        if _CONTROL.search(value):
            raise Refused(ClickError.bad_request, f"{name} contains a control character")

    if not signature_matches(fields, secret_key, complete=complete):
        raise Refused(ClickError.sign_check_failed)
    action = fields["action"]
    if action != str(int(route)):
        raise Refused(
            ClickError.action_not_found, f"action {action[:10]!r} is not {route.name} ({int(route)})"
        )

    sent_service = _id(fields, "service_id")
    if not _same_service(sent_service, service_id):
        raise Refused(ClickError.bad_request, f"service_id {sent_service} is not ours")
    return Call(
        action=route,
        click_trans_id=_id(fields, "click_trans_id"),
        service_id=sent_service,
        click_paydoc_id=_id(fields, "click_paydoc_id") if fields.get("click_paydoc_id") else None,
        merchant_trans_id=fields["merchant_trans_id"],
        merchant_prepare_id=_id(fields, "merchant_prepare_id") if complete else None,
        amount_minor=amount_minor(fields["amount"]),
        error=_error(fields.get("error") or "0"),
        error_note=_note(fields.get("error_note", "")),
        sign_time=sign_time(fields["sign_time"]),
    )


def signature(fields: Mapping[str, str], secret_key: str, *, complete: bool) -> str:
    """md5 hex of click_trans_id + service_id + secret + merchant_trans_id [+ merchant_prepare_id]
    + amount + action + sign_time, each exactly as sent (Complete adds merchant_prepare_id)."""
    parts = [
        fields["click_trans_id"],
        fields["service_id"],
        secret_key,
        fields["merchant_trans_id"],
        *([fields["merchant_prepare_id"]] if complete else []),
        fields["amount"],
        fields["action"],
        fields["sign_time"],
    ]
    # Click's protocol fixes md5; usedforsecurity=False only lets it run where md5 is restricted.
    return hashlib.md5("".join(parts).encode("utf-8"), usedforsecurity=False).hexdigest()


def signature_matches(fields: Mapping[str, str], secret_key: str, *, complete: bool) -> bool:
    """Compared in constant time; the sent hex digest may be in either case."""
    expected = signature(fields, secret_key, complete=complete)
    return hmac.compare_digest(expected.encode(), fields["sign_string"].lower().encode("utf-8"))


def amount_minor(text: str) -> int:
    """Click's amount in som ("1500", "1500.5", "1500.50") in tiyin; Refused(-8) when it is not one."""
    found = _AMOUNT.fullmatch(text)
    if found is None:
        raise Refused(
            ClickError.bad_request,
            "amount must be som with at most 2 decimals, digits only (not negative, no exponent)",
        )
    minor = int(found["som"]) * 100 + int((found["tiyin"] or "0").ljust(2, "0"))
    if minor > MONEY_MAX:
        raise Refused(ClickError.bad_request, "amount is beyond any payment")
    return minor


def sign_time(text: str) -> datetime:
    """Click's "YYYY-MM-DD HH:MM:SS" (its own local time), naive; Refused(-8) when it is not one."""
    if _SIGN_TIME.fullmatch(text) is None:
        raise Refused(ClickError.bad_request, 'sign_time must be "YYYY-MM-DD HH:MM:SS"')
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise Refused(ClickError.bad_request, "sign_time is not a date and time") from exc
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise Refused(ClickError.bad_request, f"sign_time must be within {FIRST_YEAR}-{LAST_YEAR}")
    return moment


def provider_time(call: Call, timezone: str) -> datetime:
    """When Click made the transaction: its sign_time read in the city's time zone, in UTC."""
    return call.sign_time.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def echo(fields: Mapping[str, str]) -> tuple[int | None, str | None]:
    """click_trans_id and merchant_trans_id to echo in the answer to a refused call, where they
    are what they should be (a refused call may carry anything)."""
    trans = fields.get("click_trans_id", "")
    account = fields.get("merchant_trans_id")
    return (
        int(trans) if _DIGITS.fullmatch(trans) and 0 < int(trans) <= INT64_MAX else None,
        account if account and len(account) <= MAX_FIELD and not _CONTROL.search(account) else None,
    )


def _id(fields: Mapping[str, str], name: str) -> int:
    text = fields[name]
    if _DIGITS.fullmatch(text) is None or not 0 < int(text) <= INT64_MAX:
        raise Refused(ClickError.bad_request, f"{name} must be a positive integer")
    return int(text)


def _error(text: str) -> int:
    if _ERROR.fullmatch(text) is None:
        raise Refused(ClickError.bad_request, "error must be an integer")
    return int(text)


def _note(text: str) -> str:
    return _CONTROL.sub(" ", text[:MAX_NOTE])


def _same_service(sent: int, ours: str) -> bool:
    ours = ours.strip()
    return str(sent) == ours or (ours.isascii() and ours.isdigit() and int(ours) == sent)


class PrepareAnswer(BaseModel):
    """Our answer to a Prepare: merchant_prepare_id is our payment's id."""

    click_trans_id: int | None = Field(description="Click's transaction id, as sent (null if unreadable)")
    merchant_trans_id: str | None = Field(description="The personal account, as sent (null if unreadable)")
    merchant_prepare_id: int | None = Field(description="Our payment's id; null when none was prepared")
    error: int = Field(description="0, or a Click error code (-1 .. -9)")
    error_note: str


class CompleteAnswer(BaseModel):
    """Our answer to a Complete: merchant_confirm_id is our payment's id once it is performed."""

    click_trans_id: int | None = Field(description="Click's transaction id, as sent (null if unreadable)")
    merchant_trans_id: str | None = Field(description="The personal account, as sent (null if unreadable)")
    merchant_confirm_id: int | None = Field(description="Our payment's id once performed; null otherwise")
    error: int = Field(description="0, or a Click error code (-1 .. -9)")
    error_note: str


def note(error: ClickError, detail: str = "") -> str:
    """The documented note of the code, and why where there is more to say."""
    return f"{ERROR_NOTES[error]} ({detail})" if detail else ERROR_NOTES[error]


def prepare_answer(
    click_trans_id: int | None,
    merchant_trans_id: str | None,
    error: ClickError,
    *,
    payment_id: int | None = None,
    detail: str = "",
) -> PrepareAnswer:
    return PrepareAnswer(
        click_trans_id=click_trans_id,
        merchant_trans_id=merchant_trans_id,
        merchant_prepare_id=payment_id,
        error=int(error),
        error_note=note(error, detail),
    )


def complete_answer(
    click_trans_id: int | None,
    merchant_trans_id: str | None,
    error: ClickError,
    *,
    payment_id: int | None = None,
    detail: str = "",
) -> CompleteAnswer:
    return CompleteAnswer(
        click_trans_id=click_trans_id,
        merchant_trans_id=merchant_trans_id,
        merchant_confirm_id=payment_id,
        error=int(error),
        error_note=note(error, detail),
    )
