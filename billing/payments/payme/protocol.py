# ruff: noqa: RUF001 - Payme's Russian messages are Cyrillic on purpose
"""Payme's Merchant API on the wire, pure (no I/O): its calls parsed, its answers built.

Payme calls us with JSON-RPC over HTTP POST, signed in with Basic `Paycom:<cashbox key>`;
every answer is HTTP 200 with a `result` or an `error` ({code, message {ru, uz, en}, data}).
`parse_call` turns a body into a typed call or raises `Refused` with the documented code:
-32700 not JSON, -32600 a missing field or one of the wrong type (`data` names it, e.g.
"params.time"), -32601 an unknown method, -31001 an amount that is no whole positive tiyin,
-31050 an account value that cannot be a personal account (`data` is the account field).
Money is whole tiyin, times are milliseconds since 1970 (UTC). A transaction's state:
1 opened, 2 performed, -1 cancelled before perform, -2 cancelled after perform.
The rules beyond the wire (timeout, prepayment, refunds) are in docs/payme.md. The module is
over 500 lines so that Payme's wire format stays in one place, its messages in three languages
included.
"""

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

from housing.validation import FIRST_YEAR, LAST_YEAR, MONEY_MAX, check_text

MAX_BODY_BYTES = 64 * 1024  # Payme's calls are well under 1 KB; a larger body is refused unread
MAX_ID_LENGTH = 64  # Payme's transaction ids are 24 hexadecimal characters
MAX_ACCOUNT_LENGTH = 64
MAX_HEADER_LENGTH = 1024
TIMEOUT = timedelta(milliseconds=43_200_000)  # 12 hours: an opened transaction not performed by then is dead
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(LAST_YEAR, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


class Method(StrEnum):
    check_perform = "CheckPerformTransaction"
    create = "CreateTransaction"
    perform = "PerformTransaction"
    cancel = "CancelTransaction"
    check = "CheckTransaction"
    statement = "GetStatement"


class Code(IntEnum):
    """Payme's documented error codes (-31050..-31099 are the payer's account errors)."""

    parse_error = -32700
    invalid_request = -32600
    method_not_found = -32601
    insufficient_privileges = -32504
    system_error = -32400
    not_post = -32300
    wrong_amount = -31001
    not_found = -31003
    cannot_cancel = -31007
    cannot_perform = -31008
    unknown_account = -31050


class State(IntEnum):
    opened = 1
    performed = 2
    cancelled = -1  # before it was performed: no money moved
    cancelled_after_perform = -2  # the money went back to the payer


class Reason(IntEnum):
    """Why Payme cancels a transaction."""

    receiver_not_found = 1  # one of the receivers was not found or is inactive
    debit_failed = 2  # the payer's card could not be debited
    execution_failed = 3
    timeout = 4  # not performed within TIMEOUT
    refund = 5  # a performed payment handed back
    unknown = 10


MESSAGES: dict[Code, dict[str, str]] = {
    Code.parse_error: {
        "ru": "Ошибка разбора JSON",
        "uz": "JSON so'rovni tahlil qilib bo'lmadi",
        "en": "The body is not valid JSON",
    },
    Code.invalid_request: {
        "ru": "Неверный запрос: нет обязательного поля или его тип неверен",
        "uz": "Noto'g'ri so'rov: majburiy maydon yo'q yoki uning turi noto'g'ri",
        "en": "Invalid request: a required field is missing or of the wrong type",
    },
    Code.method_not_found: {"ru": "Метод не найден", "uz": "Metod topilmadi", "en": "Method not found"},
    Code.insufficient_privileges: {
        "ru": "Недостаточно привилегий для выполнения метода",
        "uz": "Metodni bajarish uchun huquq yetarli emas",
        "en": "Insufficient privileges to call the method",
    },
    Code.system_error: {"ru": "Системная ошибка", "uz": "Tizim xatosi", "en": "System error"},
    Code.not_post: {
        "ru": "Метод HTTP-запроса должен быть POST",
        "uz": "HTTP so'rov usuli POST bo'lishi kerak",
        "en": "The HTTP method must be POST",
    },
    Code.wrong_amount: {"ru": "Неверная сумма", "uz": "Noto'g'ri summa", "en": "Wrong amount"},
    Code.not_found: {
        "ru": "Транзакция не найдена",
        "uz": "Tranzaksiya topilmadi",
        "en": "Transaction not found",
    },
    Code.cannot_cancel: {
        "ru": "Невозможно отменить транзакцию: часть платежа уже возвращена",
        "uz": "Tranzaksiyani bekor qilib bo'lmaydi: to'lovning bir qismi allaqachon qaytarilgan",
        "en": "The transaction cannot be cancelled: the payment was already handed back in part",
    },
    Code.cannot_perform: {
        "ru": "Невозможно выполнить данную операцию",
        "uz": "Ushbu amalni bajarib bo'lmaydi",
        "en": "The operation cannot be performed",
    },
    Code.unknown_account: {
        "ru": "Лицевой счёт не найден",
        "uz": "Shaxsiy hisob raqami topilmadi",
        "en": "Personal account not found",
    },
}

NOT_CONFIGURED = {
    "ru": "Приём платежей Payme не настроен на этом сервере",
    "uz": "Bu serverda Payme orqali to'lov qabul qilish sozlanmagan",
    "en": "Payme payments are not configured on this server",
}


@dataclass(frozen=True, slots=True)
class Error:
    """An error answer: its code, `data` (the field it is about, or None) and, rarely, its own message."""

    code: Code
    data: str | None = None
    message: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return {"code": int(self.code), "message": self.message or MESSAGES[self.code], "data": self.data}


class Refused(Exception):
    """A call answered with an error that changes nothing; `detail` is for our log only."""

    def __init__(self, code: Code, data: str | None = None, *, detail: str = "", message=None) -> None:
        super().__init__(detail or code.name)
        self.error = Error(code, data, message)
        self.detail = detail or code.name


# The calls' parameters, checked


@dataclass(frozen=True, slots=True)
class CheckPerform:
    amount: int
    account: str


@dataclass(frozen=True, slots=True)
class Create:
    id: str
    time: datetime
    amount: int
    account: str


@dataclass(frozen=True, slots=True)
class Perform:
    id: str


@dataclass(frozen=True, slots=True)
class Cancel:
    id: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Check:
    id: str


@dataclass(frozen=True, slots=True)
class Statement:
    start: datetime
    end: datetime


Params = CheckPerform | Create | Perform | Cancel | Check | Statement


@dataclass(frozen=True, slots=True)
class Call:
    request_id: int | str
    method: Method
    params: Params


# Time


def to_ms(moment: datetime | None) -> int:
    """Milliseconds since 1970 (UTC), as Payme counts; 0 for no moment."""
    if moment is None:
        return 0
    return (moment - EPOCH) // ONE_MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * ONE_MS


def timed_out(opened_at: datetime, now: datetime) -> bool:
    """Whether an opened transaction is past Payme's 12 hours (exactly 12 hours is still in time)."""
    return now - opened_at > TIMEOUT


# Authorisation


def authorized(header: str | None, key: str) -> bool:
    """Whether an Authorization header is Basic with the cashbox key as its password.

    Payme signs in as "Paycom"; the login is not checked, the key is (in constant time).
    """
    if not header or not key or len(header) > MAX_HEADER_LENGTH:
        return False
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError):  # not base64, or not ASCII at all
        return False
    _login, colon, password = decoded.partition(b":")
    return bool(colon) and hmac.compare_digest(password, key.encode())


# Parsing


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_size(body: bytes) -> None:
    """Refused(-32600, "body") past MAX_BODY_BYTES, before anything else (as the app's body limit is)."""
    if len(body) > MAX_BODY_BYTES:
        raise Refused(Code.invalid_request, "body", detail=f"body over {MAX_BODY_BYTES} bytes")


def decode(body: bytes) -> Any:
    """The JSON value of the body, floats as exact Decimals; Refused(-32700) if it is none."""
    check_size(body)
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Refused(Code.parse_error, detail=f"not JSON: {str(exc)[:100]}") from None


def _request_id(value: Any) -> int | str | None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH and _printable(value):
        return value
    return None


@dataclass(frozen=True, slots=True)
class Claims:
    """What a body says it is before it is checked: the id to answer with, and for the log only
    the method and Payme's transaction id ("" when it says none that can be shown)."""

    request_id: int | str | None = None
    method: str = ""
    transaction: str = ""


def claims_of(body: bytes) -> Claims:
    try:
        value = decode(body)
    except Refused:
        return Claims()
    if not isinstance(value, dict):
        return Claims()
    params = value.get("params")
    shown = [value.get("method"), params.get("id") if isinstance(params, dict) else None]
    method, transaction = (v[:MAX_ID_LENGTH] if isinstance(v, str) and _printable(v) else "" for v in shown)
    return Claims(_request_id(value.get("id")), method, transaction)


def request_id_of(body: bytes) -> int | str | None:
    """The JSON-RPC id a body carries, to answer with, or None when it carries no usable one."""
    return claims_of(body).request_id


def parse_call(body: bytes, *, account_field: str) -> Call:
    """The body as a typed call; Refused with Payme's code otherwise. Unknown keys are ignored."""
    value = decode(body)
    if not isinstance(value, dict):
        raise Refused(Code.invalid_request, detail="the body is not a JSON object")
    request_id = _request_id(value.get("id"))
    if request_id is None:
        raise Refused(Code.invalid_request, "id", detail="no id, or not an integer or short text")
    method = value.get("method")
    if not isinstance(method, str):
        raise Refused(Code.invalid_request, "method", detail="no method")
    params = value.get("params")
    if not isinstance(params, dict):
        raise Refused(Code.invalid_request, "params", detail="params is not an object")
    try:
        known = Method(method)
    except ValueError:
        shown = method if len(method) <= MAX_ID_LENGTH and _printable(method) else None
        raise Refused(Code.method_not_found, shown, detail=f"method {method[:MAX_ID_LENGTH]!r}") from None
    return Call(request_id, known, _PARSERS[known](params, account_field))


def _check_perform(params: dict[str, Any], field: str) -> CheckPerform:
    return CheckPerform(amount=_amount(params), account=_account(params, field))


def _create(params: dict[str, Any], field: str) -> Create:
    return Create(
        id=_transaction_id(params),
        time=_moment(params, "time"),
        amount=_amount(params),
        account=_account(params, field),
    )


def _perform(params: dict[str, Any], field: str) -> Perform:
    return Perform(id=_transaction_id(params))


def _cancel(params: dict[str, Any], field: str) -> Cancel:
    transaction_id = _transaction_id(params)
    reason = _whole(params.get("reason"))
    if reason is None or reason not in set(Reason):
        raise Refused(Code.invalid_request, "params.reason", detail="reason is not one of Payme's codes")
    return Cancel(id=transaction_id, reason=Reason(reason))


def _check(params: dict[str, Any], field: str) -> Check:
    return Check(id=_transaction_id(params))


def _statement(params: dict[str, Any], field: str) -> Statement:
    start, end = _moment(params, "from"), _moment(params, "to")
    if end < start:
        raise Refused(Code.invalid_request, "params.to", detail="to is before from")
    return Statement(start=start, end=end)


_PARSERS = {
    Method.check_perform: _check_perform,
    Method.create: _create,
    Method.perform: _perform,
    Method.cancel: _cancel,
    Method.check: _check,
    Method.statement: _statement,
}


def _printable(text: str) -> bool:
    """No control characters, no lone surrogates (they cannot be stored or logged)."""
    try:
        check_text(text)
    except ValueError:
        return False
    return "\t" not in text and "\n" not in text and "\r" not in text


def _transaction_id(params: dict[str, Any]) -> str:
    value = params.get("id")
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_ID_LENGTH
        or not all("!" <= char <= "~" for char in value)  # printable ASCII, no spaces
    ):
        raise Refused(Code.invalid_request, "params.id", detail="id is not Payme's transaction id")
    return value


def _whole(value: Any) -> int | None:
    """A JSON number that is a whole number (5 or 5.0), or None; true and false are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # Past 10**30 is past every bound; 1e999999999 would overflow Decimal's arithmetic itself.
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() <= 30:
        return int(value) if value == value.to_integral_value() else None
    return None


def _moment(params: dict[str, Any], name: str) -> datetime:
    ms = _whole(params.get(name))
    if ms is None or not to_ms(EARLIEST) <= ms <= to_ms(LATEST):
        raise Refused(
            Code.invalid_request,
            f"params.{name}",
            detail=f"{name} is not milliseconds of {FIRST_YEAR}..{LAST_YEAR}",
        )
    return from_ms(ms)


def _amount(params: dict[str, Any]) -> int:
    value = params.get("amount")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Refused(Code.invalid_request, "params.amount", detail="amount is not a number")
    amount = _whole(value)
    if amount is None or not 0 < amount <= MONEY_MAX:
        raise Refused(
            Code.wrong_amount, "amount", detail=f"amount {str(value)[:40]} is no whole positive tiyin"
        )
    return amount


def _account(params: dict[str, Any], field: str) -> str:
    account = params.get("account")
    if not isinstance(account, dict):
        raise Refused(Code.invalid_request, "params.account", detail="account is not an object")
    value = account.get(field)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**MAX_ACCOUNT_LENGTH:
        value = str(value)
    if not isinstance(value, str):
        raise Refused(Code.unknown_account, field, detail=f"no account.{field}")
    value = value.strip()
    if not 0 < len(value) <= MAX_ACCOUNT_LENGTH or not _printable(value):
        raise Refused(Code.unknown_account, field, detail=f"account.{field} cannot be a personal account")
    return value


# Answers


def state_of(status: str, *, cancelled_by_payme: bool) -> State:
    """Payme's state of one of our payments (`billing.models.PaymentStatus` values).

    A payment handed back in full at the office (refunded, never cancelled by Payme) is still
    performed as far as Payme knows.
    """
    if status == "succeeded" or (status == "refunded" and not cancelled_by_payme):
        return State.performed
    if status == "refunded":
        return State.cancelled_after_perform
    if status in ("canceled", "failed"):
        return State.cancelled
    return State.opened  # created (the payer's checkout) or pending (opened by Payme)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction as Payme reads it: its id and time, ours, the moments (ms, 0 for none)."""

    id: str  # Payme's
    time: int  # Payme's own time of it
    amount: int
    account: str
    create_time: int
    perform_time: int
    cancel_time: int
    transaction: str  # ours
    state: State
    reason: int | None


def allowed() -> dict[str, Any]:
    return {"allow": True}


def created(t: Transaction) -> dict[str, Any]:
    return {"create_time": t.create_time, "transaction": t.transaction, "state": int(t.state)}


def performed(t: Transaction) -> dict[str, Any]:
    return {"transaction": t.transaction, "perform_time": t.perform_time, "state": int(t.state)}


def cancelled(t: Transaction) -> dict[str, Any]:
    return {"transaction": t.transaction, "cancel_time": t.cancel_time, "state": int(t.state)}


def checked(t: Transaction) -> dict[str, Any]:
    return {
        "create_time": t.create_time,
        "perform_time": t.perform_time,
        "cancel_time": t.cancel_time,
        "transaction": t.transaction,
        "state": int(t.state),
        "reason": t.reason,
    }


def statement(transactions: list[Transaction], *, account_field: str) -> dict[str, Any]:
    return {
        "transactions": [
            {
                "id": t.id,
                "time": t.time,
                "amount": t.amount,
                "account": {account_field: t.account},
                "create_time": t.create_time,
                "perform_time": t.perform_time,
                "cancel_time": t.cancel_time,
                "transaction": t.transaction,
                "state": int(t.state),
                "reason": t.reason,
                "receivers": None,
            }
            for t in transactions
        ]
    }


def answer(request_id: int | str | None, outcome: dict[str, Any] | Error) -> dict[str, Any]:
    """The JSON-RPC answer to send (always with HTTP 200)."""
    if isinstance(outcome, Error):
        return {"jsonrpc": "2.0", "id": request_id, "error": outcome.body()}
    return {"jsonrpc": "2.0", "id": request_id, "result": outcome}
