"""Payme's wire format alone (billing/payments/payme/protocol.py): Basic sign-in, parsing every
method's parameters, hostile values of each class, the answers' shapes, states and times."""

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing.models import PaymentStatus
from billing.payments.payme import protocol
from billing.payments.payme.protocol import (
    EARLIEST,
    LATEST,
    MAX_BODY_BYTES,
    Code,
    Error,
    Method,
    Reason,
    Refused,
    State,
    parse_call,
    to_ms,
)

KEY = "k3y-from-the-cabinet&?#"
FIELD = "account_number"
NOW_MS = to_ms(datetime(2026, 11, 1, 9, tzinfo=UTC))


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


def body(method: str = "CheckTransaction", params=None, **envelope) -> bytes:
    call = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"id": "a1"} if params is None else params}
    return json.dumps(call | envelope).encode()


def parsed(method: str, params: dict, field: str = FIELD) -> protocol.Params:
    return parse_call(body(method, params), account_field=field).params


def refusal(raw: bytes, field: str = FIELD) -> tuple[Code, str | None]:
    with pytest.raises(Refused) as caught:
        parse_call(raw, account_field=field)
    return caught.value.error.code, caught.value.error.data


def create_params(**overrides) -> dict:
    return {"id": "5e7f0c3a", "time": NOW_MS, "amount": 500_000, "account": {FIELD: "10000001"}} | overrides


# Sign-in


@pytest.mark.parametrize(
    "header",
    [
        basic(f"Paycom:{KEY}".encode()),
        basic(f"anyone:{KEY}".encode()),  # the login is not checked
        basic(f":{KEY}".encode()),
        "basic " + basic(f"Paycom:{KEY}".encode())[6:],
        "  " + basic(f"Paycom:{KEY}".encode()) + "  ",
    ],
)
def test_the_cashbox_key_signs_in_whatever_the_login(header):
    assert protocol.authorized(header, KEY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        basic(b"Paycom:" + KEY.encode()[:-1]),
        basic(b"Paycom:" + KEY.encode() + b"x"),
        basic(b"Paycom:"),
        basic(KEY.encode()),  # no login and colon
        basic(b"Paycom:" + KEY.upper().encode()),
        "Bearer " + basic(f"Paycom:{KEY}".encode())[6:],
        "Digest " + basic(f"Paycom:{KEY}".encode())[6:],
        basic(f"Paycom:{KEY}".encode())[6:],  # no scheme
        "Basic",
        "Basic ====",
        "Basic not base64 at all",
        "Basic " + base64.b64encode(f"Payme:{KEY}".encode()).decode().rstrip("="),  # padding cut
        "Basic \u00e9\u00e9\u00e9\u00e9",
        "Basic " + "A" * 5000,
        basic(b"Paycom:\xff\xfe" + KEY.encode()),
    ],
)
def test_anything_else_does_not(header):
    assert not protocol.authorized(header, KEY)


def test_no_key_configured_lets_nobody_in():
    assert not protocol.authorized(basic(b"Paycom:"), "")


def test_a_key_with_a_colon_is_read_whole():
    assert protocol.authorized(basic(b"Paycom:a:b"), "a:b")
    assert not protocol.authorized(basic(b"Paycom:a:b"), "b")


# Each method's parameters


def test_each_method_is_parsed_into_its_own_call():
    start, end = NOW_MS - 1000, NOW_MS
    assert parsed("CheckPerformTransaction", {"amount": 500_000, "account": {FIELD: "10000001"}}) == (
        protocol.CheckPerform(amount=500_000, account="10000001")
    )
    assert parsed("CreateTransaction", create_params()) == protocol.Create(
        id="5e7f0c3a", time=protocol.from_ms(NOW_MS), amount=500_000, account="10000001"
    )
    assert parsed("PerformTransaction", {"id": "x"}) == protocol.Perform(id="x")
    assert parsed("CancelTransaction", {"id": "x", "reason": 5}) == protocol.Cancel(
        id="x", reason=Reason.refund
    )
    assert parsed("CheckTransaction", {"id": "x"}) == protocol.Check(id="x")
    assert parsed("GetStatement", {"from": start, "to": end}) == protocol.Statement(
        protocol.from_ms(start), protocol.from_ms(end)
    )
    call = parse_call(body("CheckTransaction", {"id": "x"}, id="req-7"), account_field=FIELD)
    assert (call.request_id, call.method) == ("req-7", Method.check)


def test_the_account_field_is_the_settings_one():
    params = {"amount": 500_000, "account": {"order": "1", "abonent": " 42 "}}
    assert parsed("CheckPerformTransaction", params, field="abonent").account == "42"
    assert refusal(body("CheckPerformTransaction", params), field="account_number") == (
        Code.unknown_account,
        "account_number",
    )


# Hostile values, class by class


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (500_000, 500_000),
        (500_000.0, 500_000),
        (Decimal("5e5"), 500_000),
        (Decimal("5.000E+5"), 500_000),
        (10**15, 10**15),
    ],
)
def test_an_amount_is_a_whole_number_of_tiyin(amount, expected):
    raw = body("CheckPerformTransaction", {"amount": 0, "account": {FIELD: "1"}}).replace(
        b'"amount": 0', b'"amount": ' + str(amount).encode()
    )
    assert parse_call(raw, account_field=FIELD).params.amount == expected


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("0", Code.wrong_amount),
        ("-1", Code.wrong_amount),
        ("-0", Code.wrong_amount),
        ("0.0", Code.wrong_amount),
        ("100.5", Code.wrong_amount),
        ("0.000001", Code.wrong_amount),
        ("1000000000000001", Code.wrong_amount),  # over 10**15
        ("1e400", Code.wrong_amount),
        ("1e999999999", Code.wrong_amount),
        ("9" * 4000, Code.wrong_amount),
        ('"500000"', Code.invalid_request),
        ("true", Code.invalid_request),
        ("false", Code.invalid_request),
        ("null", Code.invalid_request),
        ("[500000]", Code.invalid_request),
        ('{"sum": 500000}', Code.invalid_request),
    ],
)
def test_a_wrong_amount_is_refused_with_its_code(amount, code):
    params = f'{{"amount": {amount}, "account": {{"{FIELD}": "1"}}}}'
    raw = f'{{"id": 1, "method": "CheckPerformTransaction", "params": {params}}}'.encode()
    expected_data = "amount" if code is Code.wrong_amount else "params.amount"
    assert refusal(raw) == (code, expected_data)


@pytest.mark.parametrize(
    "value",
    [None, True, 1.5, -1, 10**64, "", "  ", "a\x00b", "a\x1bb", "a\nb", "\ud800", "x" * 65, [], {"n": 1}],
)
def test_an_account_value_that_cannot_be_an_account_is_31050_naming_the_field(value):
    raw = body("CheckPerformTransaction", {"amount": 500_000, "account": {FIELD: value}})
    assert refusal(raw) == (Code.unknown_account, FIELD)


@pytest.mark.parametrize("value", ["10000001", 10000001, " 10000001\t", "Ёлка-7", "x" * 64])
def test_an_account_value_may_be_text_or_a_number(value):
    params = {"amount": 500_000, "account": {FIELD: value}}
    assert parsed("CheckPerformTransaction", params).account == str(value).strip()


@pytest.mark.parametrize("account", [None, "10000001", 10000001, ["10000001"], True])
def test_an_account_that_is_not_an_object_is_an_invalid_request(account):
    raw = body("CheckPerformTransaction", {"amount": 500_000, "account": account})
    assert refusal(raw) == (Code.invalid_request, "params.account")


@pytest.mark.parametrize(
    "value",
    [None, "", 5, 5.0, True, ["a"], {"a": 1}, "a" * 65, "a b", "a\x00", "\u00e9", "a\ud800", "\u0430bc"],
)
def test_a_transaction_id_is_short_printable_ascii(value):
    assert refusal(body("PerformTransaction", {"id": value})) == (Code.invalid_request, "params.id")


@pytest.mark.parametrize("value", ["a", "5e7f0c3a9b1d2e4f6a8b0c1d", "!~" * 32])
def test_a_transaction_id_of_one_to_64_characters_passes(value):
    assert parsed("PerformTransaction", {"id": value}) == protocol.Perform(value)


@pytest.mark.parametrize(
    "value",
    [
        to_ms(EARLIEST) - 1,
        to_ms(LATEST) + 1,
        0,
        -1,
        NOW_MS // 1000 * 10**9,  # nanoseconds
        NOW_MS + 0.5,
        "1790000000000",
        True,
        None,
        [NOW_MS],
    ],
)
def test_a_time_outside_the_platforms_years_or_not_whole_ms_is_refused(value):
    assert refusal(body("CreateTransaction", create_params(time=value))) == (
        Code.invalid_request,
        "params.time",
    )
    assert refusal(body("GetStatement", {"from": value, "to": NOW_MS})) == (
        Code.invalid_request,
        "params.from",
    )


@pytest.mark.parametrize("value", [to_ms(EARLIEST), to_ms(LATEST), float(NOW_MS)])
def test_a_time_at_the_bounds_passes(value):
    assert to_ms(parsed("CreateTransaction", create_params(time=value)).time) == int(value)


def test_a_statement_ending_before_it_starts_is_refused():
    assert refusal(body("GetStatement", {"from": NOW_MS, "to": NOW_MS - 1})) == (
        Code.invalid_request,
        "params.to",
    )
    assert parsed("GetStatement", {"from": NOW_MS, "to": NOW_MS}) == protocol.Statement(
        protocol.from_ms(NOW_MS), protocol.from_ms(NOW_MS)
    )


@pytest.mark.parametrize("reason", [1, 2, 3, 4, 5, 10, 5.0])
def test_the_documented_reasons_pass(reason):
    assert parsed("CancelTransaction", {"id": "x", "reason": reason}).reason == int(reason)


@pytest.mark.parametrize("reason", [0, 6, 9, 11, -4, "5", True, None, 5.5, [5]])
def test_any_other_reason_is_refused(reason):
    assert refusal(body("CancelTransaction", {"id": "x", "reason": reason})) == (
        Code.invalid_request,
        "params.reason",
    )


def test_missing_parameters_are_named():
    assert refusal(body("CreateTransaction", {})) == (Code.invalid_request, "params.id")
    assert refusal(body("CreateTransaction", {"id": "x"})) == (Code.invalid_request, "params.time")
    assert refusal(body("CreateTransaction", {"id": "x", "time": NOW_MS})) == (
        Code.invalid_request,
        "params.amount",
    )
    assert refusal(body("CreateTransaction", {"id": "x", "time": NOW_MS, "amount": 500_000})) == (
        Code.invalid_request,
        "params.account",
    )
    assert refusal(body("GetStatement", {"from": NOW_MS})) == (Code.invalid_request, "params.to")


def test_extra_parameters_and_envelope_fields_are_ignored():
    params = create_params(extra={"deep": [[[None]]]}, account={FIELD: "1", "phone": "998"})
    raw = body("CreateTransaction", params, jsonrpc="1.0", extra=True)
    assert parse_call(raw, account_field=FIELD).params.account == "1"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b" ",
        b"{",
        b"{'id': 1}",
        b'{"id": 1,}',
        b"\xff\xfe\xfa",
        b"\xc3\x28",
        b'{"id": NaN, "method": "CheckTransaction", "params": {}}',
        b'{"id": 1, "method": "CheckTransaction", "params": {"id": Infinity}}',
        b'{"id": -Infinity}',
        b"[" * 100_000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"id": ' + b"1" * 5000 + b"}",
    ],
)
def test_what_is_not_json_is_a_parse_error(raw):
    assert refusal(raw[:MAX_BODY_BYTES])[0] is Code.parse_error


def test_a_body_over_the_cap_is_refused_unparsed():
    raw = body("CheckTransaction", {"id": "a", "pad": "x" * MAX_BODY_BYTES})
    assert refusal(raw) == (Code.invalid_request, "body")
    assert protocol.request_id_of(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"id": 7}', 7),
        (b'{"id": "r-1"}', "r-1"),
        (b'{"id": 0}', 0),
        (b'{"id": 9223372036854775808}', None),  # 2**63
        (b'{"id": 1.5}', None),
        (b'{"id": true}', None),
        (b'{"id": "\\u0000"}', None),
        (b'{"id": "' + b"a" * 65 + b'"}', None),
        (b'{"id": [1]}', None),
        (b"[1]", None),
        (b"nope", None),
        (b"{}", None),
    ],
)
def test_the_answer_is_sent_with_the_calls_id_when_it_is_usable(raw, expected):
    assert protocol.request_id_of(raw) == expected


@pytest.mark.parametrize(
    ("method", "data"),
    [
        ("ChangePassword", "ChangePassword"),
        ("checkTransaction", "checkTransaction"),
        ("", ""),
        ("x" * 65, None),
        ("Get\x00Statement", None),
    ],
)
def test_an_unknown_method_is_32601_and_named_when_it_is_printable(method, data):
    assert refusal(body(method, {})) == (Code.method_not_found, data)


# Property: whatever the body, the parser answers with one of Payme's codes, never another error

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
PARAM_NAMES = st.sampled_from(["id", "time", "amount", "account", "reason", "from", "to"])


@hypothesis_settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    method=st.sampled_from([m.value for m in Method]) | st.text(max_size=10),
    params=st.dictionaries(PARAM_NAMES, JSON | st.fixed_dictionaries({FIELD: JSON}), max_size=7) | JSON,
    request_id=JSON,
)
def test_any_call_is_parsed_or_refused_with_a_payme_code(method, params, request_id):
    raw = json.dumps({"id": request_id, "method": method, "params": params}).encode()
    try:
        call = parse_call(raw, account_field=FIELD)
    except Refused as exc:
        assert exc.error.code in set(Code)
        assert set(exc.error.body()) == {"code", "message", "data"}
        json.dumps(exc.error.body())
        return
    assert isinstance(call.params, protocol.Params)


@hypothesis_settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(raw=st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_with_a_payme_code(raw):
    try:
        parse_call(raw, account_field=FIELD)
    except Refused as exc:
        assert exc.error.code in set(Code)
    assert protocol.request_id_of(raw) is None or isinstance(protocol.request_id_of(raw), int | str)


# Answers


def test_every_payment_status_has_a_payme_state():
    states = {
        status: protocol.state_of(status.value, cancelled_by_payme=status in ("canceled", "refunded"))
        for status in PaymentStatus
    }
    assert states == {
        PaymentStatus.created: State.opened,
        PaymentStatus.pending: State.opened,
        PaymentStatus.succeeded: State.performed,
        PaymentStatus.failed: State.cancelled,
        PaymentStatus.canceled: State.cancelled,
        PaymentStatus.refunded: State.cancelled_after_perform,
    }
    # handed back at the office, never cancelled by Payme: still performed as far as Payme knows
    assert protocol.state_of("refunded", cancelled_by_payme=False) is State.performed


def test_times_are_whole_milliseconds_since_1970():
    moment = datetime(2026, 11, 1, 9, 0, 0, 123_999, tzinfo=UTC)
    assert to_ms(moment) == 1_793_523_600_123
    assert protocol.from_ms(1_793_523_600_123) == moment - timedelta(microseconds=999)
    assert to_ms(None) == 0
    assert to_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0


def test_the_timeout_is_twelve_hours_to_the_millisecond():
    opened = datetime(2026, 11, 1, tzinfo=UTC)
    assert not protocol.timed_out(opened, opened + timedelta(hours=12))
    assert protocol.timed_out(opened, opened + timedelta(hours=12, milliseconds=1))
    assert timedelta(milliseconds=43_200_000) == protocol.TIMEOUT


def test_every_error_speaks_three_languages():
    for code in Code:
        message = Error(code).body()["message"]
        assert set(message) == {"ru", "uz", "en"} and all(message.values()), code
    assert Error(Code.insufficient_privileges, message=protocol.NOT_CONFIGURED).body()["message"]["en"] == (
        "Payme payments are not configured on this server"
    )


def test_the_answers_shapes():
    t = protocol.Transaction(
        id="p1",
        time=10,
        amount=500_000,
        account="10000001",
        create_time=11,
        perform_time=0,
        cancel_time=13,
        transaction="42",
        state=State.cancelled,
        reason=3,
    )
    assert protocol.answer(5, protocol.created(t)) == {
        "jsonrpc": "2.0",
        "id": 5,
        "result": {"create_time": 11, "transaction": "42", "state": -1},
    }
    assert protocol.performed(t) == {"transaction": "42", "perform_time": 0, "state": -1}
    assert protocol.cancelled(t) == {"transaction": "42", "cancel_time": 13, "state": -1}
    assert protocol.checked(t) == {
        "create_time": 11,
        "perform_time": 0,
        "cancel_time": 13,
        "transaction": "42",
        "state": -1,
        "reason": 3,
    }
    (row,) = protocol.statement([t], account_field="abonent")["transactions"]
    assert row["account"] == {"abonent": "10000001"} and row["receivers"] is None and row["time"] == 10
    assert protocol.answer(None, Error(Code.unknown_account, "abonent")) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -31050, "message": protocol.MESSAGES[Code.unknown_account], "data": "abonent"},
    }


@pytest.mark.parametrize(
    ("raw", "claims"),
    [
        (body("PerformTransaction", {"id": "p-1"}), protocol.Claims(1, "PerformTransaction", "p-1")),
        (body("Perform\nTransaction", {"id": "p\x001"}), protocol.Claims(1, "", "")),
        (body("X" * 100, {"id": 5}), protocol.Claims(1, "X" * 64, "")),
        (body("GetStatement", [1]), protocol.Claims(1, "GetStatement", "")),
        (b"[1, 2]", protocol.Claims()),
        (b"\x00", protocol.Claims()),
    ],
)
def test_what_a_body_claims_is_read_for_the_answer_and_the_log_only(raw, claims):
    assert protocol.claims_of(raw) == claims
