"""Click's wire format (billing/payments/click/protocol.py): the form, the signature, the order in
which faults are told, hostile values, and the answers."""

from datetime import UTC, datetime

import pytest

from billing.payments.click import protocol
from billing.payments.click.protocol import Action, ClickError, Refused
from tests.standins.click_calls import SECRET_KEY, SERVICE_ID, click_sign, complete_form, prepare_form

ACCOUNT = "10000001"


def read(form: dict[str, str], route: Action = Action.prepare, **kw) -> protocol.Call:
    options = {"service_id": SERVICE_ID, "secret_key": SECRET_KEY} | kw
    return protocol.read_call(form, route=route, **options)


def refusal(form: dict[str, str], route: Action = Action.prepare, **kw) -> Refused:
    with pytest.raises(Refused) as caught:
        read(form, route, **kw)
    return caught.value


def prepared(**changes: str) -> dict[str, str]:
    fields = {"amount": "1000.00", "click_trans_id": "12345"} | changes
    return prepare_form(ACCOUNT, fields.pop("amount"), click_trans_id=fields.pop("click_trans_id"), **fields)


def completed(**changes: str) -> dict[str, str]:
    return complete_form(prepared(), changes.pop("merchant_prepare_id", "42"), **changes)


# The signature: Click's formula, by hand.


def test_the_prepare_signature_is_md5_of_the_documented_fields_in_order():
    fields = {
        "click_trans_id": "12345",
        "service_id": "678",
        "merchant_trans_id": "10000001",
        "amount": "1000.00",
        "action": "0",
        "sign_time": "2026-11-05 14:30:00",
    }
    # md5("12345" + "678" + "secret" + "10000001" + "1000.00" + "0" + "2026-11-05 14:30:00")
    assert protocol.signature(fields, "secret", complete=False) == "be37956fd57c47cd9fa584e02fe807fb"


def test_the_complete_signature_adds_merchant_prepare_id_after_the_account():
    fields = {
        "click_trans_id": "12345",
        "service_id": "678",
        "merchant_trans_id": "10000001",
        "merchant_prepare_id": "42",
        "amount": "1000.00",
        "action": "1",
        "sign_time": "2026-11-05 14:31:07",
    }
    # md5("12345" + "678" + "secret" + "10000001" + "42" + "1000.00" + "1" + "2026-11-05 14:31:07")
    assert protocol.signature(fields, "secret", complete=True) == "69bdd6b9f3a5b425542a7cf81ba5c351"


def test_a_signed_prepare_and_complete_are_read():
    call = read(prepared())
    assert (call.action, call.click_trans_id, call.merchant_trans_id, call.amount_minor) == (
        Action.prepare,
        12345,
        ACCOUNT,
        100_000,
    )
    assert call.merchant_prepare_id is None and call.sign_time == datetime(2026, 11, 5, 14, 30)
    done = read(completed(error="-5017"), Action.complete)
    assert (done.action, done.merchant_prepare_id, done.error) == (Action.complete, 42, -5017)


def test_the_signature_covers_the_fields_exactly_as_sent():
    """1000.0 and 1000.00 are the same money but not the same signature."""
    form = prepared(amount="1000.0")
    assert read(form).amount_minor == 100_000
    form["amount"] = "1000.00"
    assert refusal(form).error is ClickError.sign_check_failed


def test_the_signature_may_be_sent_in_capitals():
    form = prepared()
    form["sign_string"] = form["sign_string"].upper()
    assert read(form).click_trans_id == 12345


SIGNED = ["click_trans_id", "service_id", "merchant_trans_id", "amount", "action", "sign_time"]


@pytest.mark.parametrize("name", [*SIGNED, "merchant_prepare_id", "sign_string"])
def test_one_character_changed_in_a_signed_field_fails_the_signature(name):
    form = completed()
    value = form[name]
    form[name] = value[:-1] + ("7" if value[-1] != "7" else "8")
    assert refusal(form, Action.complete).error is ClickError.sign_check_failed


def test_the_other_secret_or_the_other_actions_formula_fails_the_signature():
    assert refusal(prepared(), secret_key="another").error is ClickError.sign_check_failed
    as_complete = prepared(merchant_prepare_id="42")
    as_complete["sign_string"] = protocol.signature(as_complete, SECRET_KEY, complete=True)
    assert refusal(as_complete).error is ClickError.sign_check_failed
    as_prepare = completed()
    as_prepare["sign_string"] = protocol.signature(as_prepare, SECRET_KEY, complete=False)
    assert refusal(as_prepare, Action.complete).error is ClickError.sign_check_failed


def test_the_unsigned_fields_do_not_touch_the_signature():
    form = completed()
    form |= {"error": "-1", "error_note": "anything", "click_paydoc_id": "99"}
    assert read(form, Action.complete).error == -1


# The order: the form, the signature, the action, the values.


@pytest.mark.parametrize("name", [*SIGNED, "sign_string"])
@pytest.mark.parametrize("blank", [None, ""], ids=["missing", "empty"])
def test_a_missing_or_empty_required_field_is_minus_8(name, blank):
    form = prepared()
    if blank is None:
        del form[name]
    else:
        form[name] = blank
    found = refusal(form)
    assert found.error is ClickError.bad_request and name in found.detail


@pytest.mark.parametrize("name", ["merchant_prepare_id", "error"])
def test_complete_also_needs_its_prepare_id_and_clicks_error(name):
    form = completed()
    del form[name]
    assert refusal(form, Action.complete).error is ClickError.bad_request


def test_prepare_needs_neither_error_nor_its_note_nor_the_paydoc():
    form = prepared()
    for name in ("error", "error_note", "click_paydoc_id"):
        del form[name]
    call = read(form)
    assert (call.error, call.error_note, call.click_paydoc_id) == (0, "", None)


@pytest.mark.parametrize("name", [*SIGNED, "click_paydoc_id", "sign_string"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\n", "\t", "\x7f", "\x85", "\ud800"])
def test_a_control_character_in_a_field_is_minus_8_even_when_signed(name, char):
    form = prepared(**{name: "1" + char + "2"}) if name != "sign_string" else prepared()
    if name == "sign_string":
        form[name] = form[name][:5] + char + form[name][6:]
    assert refusal(form).error is ClickError.bad_request


def test_a_control_character_in_clicks_note_is_replaced_not_refused():
    call = read(completed(error="-5017", error_note="card\x00 declined\n"), Action.complete)
    assert call.error_note == "card  declined "


def test_an_overlong_field_is_minus_8():
    assert refusal(prepared(merchant_trans_id="1" * 257)).error is ClickError.bad_request


@pytest.mark.parametrize(
    ("route", "action"),
    [
        (Action.prepare, "1"),
        (Action.complete, "0"),
        (Action.prepare, "2"),
        (Action.complete, "-1"),
        (Action.prepare, "prepare"),
        (Action.prepare, "00"),
    ],
)
def test_an_action_other_than_the_routes_is_minus_3_once_signed(route, action):
    """Signed with its own action's formula, or the route's for an action that is neither."""
    form = prepared(action=action, merchant_prepare_id="42", error="0")
    complete = action == "1" or (route is Action.complete and action != "0")
    form["sign_string"] = click_sign(form, complete=complete)
    found = refusal(form, route)
    assert found.error is ClickError.action_not_found, found.detail


def test_a_bad_signature_is_told_before_the_wrong_action():
    form = prepared(action="1", merchant_prepare_id="42")
    form["sign_string"] = "0" * 32
    assert refusal(form).error is ClickError.sign_check_failed


@pytest.mark.parametrize(
    "value", ["abc", "-5", "0", "1.5", "1e3", " 12", "１２", str(2**63), "9" * 20, "0x1F"]
)
@pytest.mark.parametrize("name", ["click_trans_id", "service_id", "click_paydoc_id"])
def test_an_id_that_is_not_a_positive_bigint_is_minus_8_even_when_signed(name, value):
    assert refusal(prepared(**{name: value})).error is ClickError.bad_request


@pytest.mark.parametrize("value", ["abc", "0", "-42", "42.0", str(2**63)])
def test_a_merchant_prepare_id_that_is_not_a_positive_bigint_is_minus_8(value):
    assert refusal(completed(merchant_prepare_id=value), Action.complete).error is ClickError.bad_request


def test_another_service_is_minus_8():
    found = refusal(prepared(service_id="27182"))
    assert found.error is ClickError.bad_request and "service_id" in found.detail


def test_our_service_id_may_be_written_with_leading_zeros():
    assert read(prepared(service_id="0031415")).service_id == 31415


@pytest.mark.parametrize("value", ["x", "1.5", "", "--1", "1" * 10])
def test_clicks_error_that_is_not_an_integer_is_minus_8(value):
    assert refusal(completed(error=value), Action.complete).error is ClickError.bad_request


# Amounts: som with at most 2 decimals.


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("1000", 100_000),
        ("1000.5", 100_050),
        ("1000.50", 100_050),
        ("1000.05", 100_005),
        ("0.01", 1),
        ("0", 0),
        ("0001000", 100_000),
        ("9999999999999.99", 999_999_999_999_999),
    ],
)
def test_an_amount_in_som_is_read_in_tiyin(text, minor):
    assert protocol.amount_minor(text) == minor


@pytest.mark.parametrize(
    "text",
    [
        "1000.005",
        "1000.000",
        "-5",
        "-0.01",
        "+5",
        "1e3",
        "1E3",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        " 100",
        "100 ",
        "1,000",
        "1000,50",
        "\u0661\u0660\u0660",  # Arabic-Indic 100
        ".5",
        "5.",
        "0x10",
        "1_000",
        "99999999999999",  # 14 digits of som: beyond any payment
        "9" * 400,
    ],
)
def test_an_amount_that_is_not_som_with_two_decimals_is_minus_8(text):
    with pytest.raises(Refused) as caught:
        protocol.amount_minor(text)
    assert caught.value.error is ClickError.bad_request


def test_a_badly_written_amount_is_minus_8_even_when_signed():
    assert refusal(prepared(amount="1000.001")).error is ClickError.bad_request
    assert refusal(prepared(amount="NaN")).error is ClickError.bad_request


# sign_time: Click's local time.


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30 10:00:00",
        "2026-11-05T14:30:00",
        "2026-11-05 24:00:00",
        "2026-11-05 14:30",
        "2026-11-05 14:30:00Z",
        "2026-11-05 14:30:00+05:00",
        "0001-01-01 00:00:00",
        "1999-12-31 23:59:59",
        "9999-12-31 23:59:59",
        "05.11.2026 14:30:00",
        "1762335000",
    ],
)
def test_a_sign_time_that_is_not_one_is_minus_8(text):
    assert refusal(prepared(sign_time=text)).error is ClickError.bad_request


def test_sign_time_is_the_citys_time():
    call = read(prepared(sign_time="2026-11-05 14:30:00"))
    assert protocol.provider_time(call, "Asia/Tashkent") == datetime(2026, 11, 5, 9, 30, tzinfo=UTC)


# The form itself.


def test_a_form_is_read_as_url_encoded_utf8():
    body = b"merchant_trans_id=%D0%90+1&amount=1000.00&unknown=1&unknown=2"
    assert protocol.parse_form(body) == {"merchant_trans_id": "\u0410 1", "amount": "1000.00"}


@pytest.mark.parametrize(
    "body",
    [
        b"amount=1&amount=2",  # which one did Click sign?
        b"merchant_trans_id=%FF%FE",  # not UTF-8
        b"\xff\xfe=1",
        b"&".join(b"f%d=1" % n for n in range(60)),  # more fields than any call
    ],
)
def test_a_form_that_click_could_not_have_sent_is_minus_8(body):
    with pytest.raises(Refused) as caught:
        protocol.parse_form(body)
    assert caught.value.error is ClickError.bad_request


def test_an_empty_body_reads_as_no_fields_and_then_as_missing_ones():
    assert protocol.parse_form(b"") == {}
    assert refusal({}).error is ClickError.bad_request


def test_a_refused_calls_ids_are_echoed_only_when_they_are_ids():
    assert protocol.echo({"click_trans_id": "12345", "merchant_trans_id": ACCOUNT}) == (12345, ACCOUNT)
    assert protocol.echo({"click_trans_id": "x", "merchant_trans_id": "a\x00b"}) == (None, None)
    assert protocol.echo({"click_trans_id": str(2**64)}) == (None, None)


# The answers: Click's documented codes and notes.


def test_the_codes_and_notes_are_clicks():
    assert {int(code): note for code, note in protocol.ERROR_NOTES.items()} == {
        0: "Success",
        -1: "SIGN CHECK FAILED!",
        -2: "Incorrect parameter amount",
        -3: "Action not found",
        -4: "Already paid",
        -5: "User does not exist",
        -6: "Transaction does not exist",
        -7: "Failed to update user",
        -8: "Error in request from click",
        -9: "Transaction cancelled",
    }


def test_the_answers_carry_clicks_fields():
    prepare = protocol.prepare_answer(12345, ACCOUNT, ClickError.success, payment_id=7)
    assert prepare.model_dump() == {
        "click_trans_id": 12345,
        "merchant_trans_id": ACCOUNT,
        "merchant_prepare_id": 7,
        "error": 0,
        "error_note": "Success",
    }
    complete = protocol.complete_answer(12345, ACCOUNT, ClickError.incorrect_amount, detail="was 1000.00")
    assert complete.model_dump() == {
        "click_trans_id": 12345,
        "merchant_trans_id": ACCOUNT,
        "merchant_confirm_id": None,
        "error": -2,
        "error_note": "Incorrect parameter amount (was 1000.00)",
    }
