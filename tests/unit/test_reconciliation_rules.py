"""The reconciliation's pure rules: each kind of difference, none when the sides agree, the city's
day of a payment and of its refund, statements that cover some companies only, every gateway."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from billing.models import Gateway, PaymentStatus, StatementState
from billing.payments.reconciliation.rules import (
    Booked,
    Kind,
    Line,
    Ours,
    Statement,
    paid_day,
    reconcile,
    refund_day,
)

TZ = "Asia/Tashkent"  # UTC+5 all year
DAY = date(2026, 11, 3)
NOON = datetime(2026, 11, 3, 7, tzinfo=UTC)  # 12:00 in Tashkent
NEXT_NOON = NOON + timedelta(days=1)
AMOUNT = 15_000_000


def ours(n: int = 1, **kw) -> Ours:
    fields = {
        "payment_id": n,
        "gateway": Gateway.payme,
        "external_id": f"tx-{n}",
        "apartment_id": 100 + n,
        "account_number": f"ACC{n}",
        "amount_minor": AMOUNT,
        "status": PaymentStatus.succeeded,
        "created_at": NOON - timedelta(minutes=5),
        "performed_at": NOON,
        "company_id": 1,
    } | kw
    return Ours(**fields)


def booked(amount: int = AMOUNT, at: datetime = NOON, **kw) -> Booked:
    return Booked(payments=1, paid_minor=amount, first_paid_at=at, **kw)


def line(n: int = 1, **kw) -> Line:
    fields = {
        "external_id": f"tx-{n}",
        "day": DAY,
        "occurred_at": NOON,
        "amount_minor": AMOUNT,
        "account_number": f"ACC{n}",
        "state": StatementState.performed,
        "apartment_id": 100 + n,
    } | kw
    return Line(**fields)


def kinds(result) -> list[Kind]:
    return [d.kind for d in result.differences]


def test_nothing_differs_when_ours_the_ledger_and_the_statement_agree():
    result = reconcile(
        Gateway.payme,
        DAY,
        [ours(1), ours(2)],
        {1: booked(), 2: booked()},
        Statement((line(1), line(2))),
        timezone=TZ,
    )
    assert result.differences == []
    assert (result.payments, result.paid_minor, result.refunded_minor, result.statement_lines) == (
        2,
        2 * AMOUNT,
        0,
        2,
    )


def test_a_day_without_a_statement_compares_with_the_ledger_only():
    result = reconcile(Gateway.payme, DAY, [ours()], {1: booked()}, Statement(), timezone=TZ)
    assert result.differences == [] and result.statement_lines is None


@pytest.mark.parametrize(
    ("ledger", "kind", "theirs"),
    [
        (None, Kind.not_booked, 0),
        (Booked(payments=2, paid_minor=2 * AMOUNT, first_paid_at=NOON), Kind.booked_twice, 2 * AMOUNT),
        (booked(AMOUNT - 100), Kind.amount_mismatch_ledger, AMOUNT - 100),
    ],
)
def test_a_paid_payment_the_ledger_does_not_have_once_at_its_amount(ledger, kind, theirs):
    booked_ = {} if ledger is None else {1: ledger}
    result = reconcile(Gateway.payme, DAY, [ours()], booked_, None, timezone=TZ)
    [difference] = result.differences
    assert difference.kind is kind
    assert (difference.ours_minor, difference.theirs_minor) == (AMOUNT, theirs)
    assert (difference.payment_id, difference.external_id, difference.apartment_id) == (1, "tx-1", 101)
    assert "payment 1" in difference.detail


def test_a_payment_booked_though_never_paid():
    card = ours(gateway=Gateway.stripe, status=PaymentStatus.canceled, performed_at=None, external_id="pi_1")
    result = reconcile(Gateway.stripe, DAY, [card], {1: booked()}, None, timezone=TZ)
    assert kinds(result) == [Kind.booked_not_paid]
    assert result.payments == 0  # it was not paid: the day's count leaves it out
    assert (result.differences[0].ours_minor, result.differences[0].theirs_minor) == (0, AMOUNT)


def test_a_cancel_after_perform_counts_on_the_cancels_day_and_needs_a_refund_entry():
    refunded = ours(
        status=PaymentStatus.refunded,
        refunded_minor=AMOUNT,
        performed_at=NOON - timedelta(days=2),
        canceled_at=NOON,
    )
    paid_earlier = booked(at=NOON - timedelta(days=2))
    unbooked = reconcile(Gateway.payme, DAY, [refunded], {1: paid_earlier}, None, timezone=TZ)
    assert kinds(unbooked) == [Kind.refund_not_booked]
    assert (unbooked.payments, unbooked.refunded_minor) == (0, AMOUNT)  # paid two days before
    assert "cancelled after it was performed" in unbooked.differences[0].detail

    both = Booked(
        payments=1, paid_minor=AMOUNT, refunded_minor=AMOUNT, first_paid_at=paid_earlier.first_paid_at
    )
    assert reconcile(Gateway.payme, DAY, [refunded], {1: both}, None, timezone=TZ).differences == []
    wrong = Booked(
        payments=1, paid_minor=AMOUNT, refunded_minor=100, first_paid_at=paid_earlier.first_paid_at
    )
    [difference] = reconcile(Gateway.payme, DAY, [refunded], {1: wrong}, None, timezone=TZ).differences
    assert (difference.kind, difference.ours_minor, difference.theirs_minor) == (
        Kind.refund_mismatch_ledger,
        AMOUNT,
        100,
    )
    # The payment's own day sees the payment only: booked once, nothing differs there.
    earlier = reconcile(Gateway.payme, DAY - timedelta(days=2), [refunded], {1: both}, None, timezone=TZ)
    assert earlier.differences == [] and (earlier.payments, earlier.refunded_minor) == (1, 0)


def test_a_part_refund_at_the_office_counts_on_its_last_refund_entrys_day():
    bank = ours(gateway=Gateway.bank, performed_at=None, external_id="BANK-1", refunded_minor=5_000)
    paid = Booked(
        payments=1,
        paid_minor=AMOUNT,
        refunded_minor=5_000,
        first_paid_at=NOON - timedelta(days=5),
        last_refunded_at=NOON,
    )
    assert refund_day(bank, paid, TZ) == DAY
    assert paid_day(bank, paid, TZ) == DAY - timedelta(days=5)
    result = reconcile(Gateway.bank, DAY, [bank], {1: paid}, None, timezone=TZ)
    assert result.differences == [] and (result.payments, result.refunded_minor) == (0, 5_000)
    # refunded by our records, no refund entry: on the payment's own day
    unbooked = Booked(payments=1, paid_minor=AMOUNT, first_paid_at=NOON - timedelta(days=5))
    assert refund_day(bank, unbooked, TZ) == DAY - timedelta(days=5)
    found = reconcile(Gateway.bank, DAY - timedelta(days=5), [bank], {1: unbooked}, None, timezone=TZ)
    assert kinds(found) == [Kind.refund_not_booked]


def test_the_day_is_the_citys_calendar_day():
    before_midnight = datetime(2026, 11, 3, 18, 59, 59, tzinfo=UTC)  # 23:59:59 in Tashkent
    after_midnight = datetime(2026, 11, 3, 19, 0, tzinfo=UTC)  # 00:00 on the 4th
    late, early = ours(1, performed_at=before_midnight), ours(2, performed_at=after_midnight)
    ledger = {1: booked(at=before_midnight), 2: booked(at=after_midnight)}
    assert reconcile(Gateway.payme, DAY, [late, early], ledger, None, timezone=TZ).payments == 1
    assert (
        reconcile(Gateway.payme, DAY + timedelta(days=1), [late, early], ledger, None, timezone=TZ).payments
        == 1
    )
    # in UTC both are the 3rd
    assert reconcile(Gateway.payme, DAY, [late, early], ledger, None, timezone="UTC").payments == 2


def test_missing_in_ours_names_the_line_and_its_apartment_if_any():
    strangers = Statement((line(7, apartment_id=None), line(8), line(9, state=StatementState.cancelled)))
    result = reconcile(Gateway.payme, DAY, [], {}, strangers, timezone=TZ)
    assert kinds(result) == [Kind.missing_in_ours] * 3
    unknown, known, cancelled = result.differences
    assert cancelled.theirs_minor == 0  # no money moved, the statement says
    assert (unknown.external_id, unknown.apartment_id, unknown.payment_id) == ("tx-7", None, None)
    assert (unknown.ours_minor, unknown.theirs_minor) == (None, AMOUNT)
    assert known.apartment_id == 108


def test_ours_performed_is_missing_from_an_imported_statement():
    other = line(9, apartment_id=None)
    result = reconcile(Gateway.payme, DAY, [ours()], {1: booked()}, Statement((other,)), timezone=TZ)
    assert kinds(result) == [Kind.missing_in_ours, Kind.missing_in_statement]
    missing = result.differences[1]
    assert (missing.payment_id, missing.ours_minor, missing.theirs_minor) == (1, AMOUNT, None)


@pytest.mark.parametrize(
    ("changes", "expected", "theirs"),
    [
        ({"amount_minor": AMOUNT + 1}, [Kind.amount_differs], AMOUNT + 1),
        ({"account_number": "ACC99"}, [Kind.account_differs], AMOUNT),
        ({"state": StatementState.cancelled}, [Kind.state_differs], 0),  # no money moved, the file says
        ({"amount_minor": 1, "state": StatementState.refunded}, [Kind.amount_differs, Kind.state_differs], 1),
    ],
)
def test_a_line_of_ours_that_says_something_else(changes, expected, theirs):
    result = reconcile(
        Gateway.payme, DAY, [ours()], {1: booked()}, Statement((line(**changes),)), timezone=TZ
    )
    assert kinds(result) == expected
    assert (result.differences[0].ours_minor, result.differences[0].theirs_minor) == (AMOUNT, theirs)


@pytest.mark.parametrize(
    ("ours_kw", "state"),
    [
        ({"status": PaymentStatus.canceled, "performed_at": None, "canceled_at": NOON}, "cancelled"),
        ({"status": PaymentStatus.pending, "performed_at": None}, "still open (pending)"),
    ],
)
def test_the_file_says_performed_and_ours_is_not(ours_kw, state):
    result = reconcile(Gateway.payme, DAY, [ours(**ours_kw)], {}, Statement((line(),)), timezone=TZ)
    [difference] = result.differences
    assert difference.kind is Kind.state_differs
    assert f"ours was {state}" in difference.detail
    assert (difference.ours_minor, difference.theirs_minor) == (0, AMOUNT)


def test_a_cancelled_line_agrees_with_a_transaction_cancelled_before_perform():
    cancelled = ours(status=PaymentStatus.canceled, performed_at=None, canceled_at=NOON)
    statement = Statement((line(state=StatementState.cancelled),))
    result = reconcile(Gateway.payme, DAY, [cancelled], {}, statement, timezone=TZ)
    assert result.differences == [] and result.payments == 0


def test_performed_one_day_refunded_the_next_agrees_with_the_refunded_line_on_both_days():
    refunded = ours(status=PaymentStatus.refunded, refunded_minor=AMOUNT, canceled_at=NEXT_NOON)
    ledger = {
        1: Booked(
            payments=1,
            paid_minor=AMOUNT,
            refunded_minor=AMOUNT,
            first_paid_at=NOON,
            last_refunded_at=NEXT_NOON,
        )
    }
    # The later file's refunded line replaced the first day's performed one.
    statement = Statement(
        (line(9), line(state=StatementState.refunded, day=DAY + timedelta(days=1), occurred_at=NEXT_NOON))
    )
    first = reconcile(Gateway.payme, DAY, [refunded], ledger, statement, timezone=TZ)
    assert kinds(first) == [Kind.missing_in_ours]  # tx-9 only
    second = reconcile(Gateway.payme, DAY + timedelta(days=1), [refunded], ledger, statement, timezone=TZ)
    assert second.differences == [] and second.refunded_minor == AMOUNT


def test_a_refund_missing_from_the_later_days_statement():
    refunded = ours(status=PaymentStatus.refunded, refunded_minor=AMOUNT, canceled_at=NEXT_NOON)
    ledger = {
        1: Booked(
            payments=1,
            paid_minor=AMOUNT,
            refunded_minor=AMOUNT,
            first_paid_at=NOON,
            last_refunded_at=NEXT_NOON,
        )
    }
    statement = Statement((line(), line(5, day=DAY + timedelta(days=1), apartment_id=None)))
    assert kinds(reconcile(Gateway.payme, DAY, [refunded], ledger, statement, timezone=TZ)) == []
    later = reconcile(Gateway.payme, DAY + timedelta(days=1), [refunded], ledger, statement, timezone=TZ)
    assert kinds(later) == [Kind.missing_in_ours, Kind.missing_in_statement]
    assert f"the statement of {DAY} has it performed" in later.differences[1].detail


def test_a_statement_of_some_companies_misses_nothing_of_the_others():
    mine, theirs = ours(1, company_id=1), ours(2, company_id=2)
    statement = Statement((line(1),), covers=frozenset({1}))
    result = reconcile(Gateway.payme, DAY, [mine, theirs], {1: booked(), 2: booked()}, statement, timezone=TZ)
    assert result.differences == []
    everyone = Statement((line(1),), covers=None)
    result = reconcile(Gateway.payme, DAY, [mine, theirs], {1: booked(), 2: booked()}, everyone, timezone=TZ)
    assert [(d.kind, d.payment_id) for d in result.differences] == [(Kind.missing_in_statement, 2)]


def test_every_gateway_is_reconciled_on_its_own_and_by_its_own_day():
    payme, click = ours(1), ours(2, gateway=Gateway.click)
    card = ours(3, gateway=Gateway.stripe, external_id="pi_3", performed_at=None)
    bank = ours(
        4, gateway=Gateway.bank, external_id="B-4", performed_at=None, created_at=NOON - timedelta(days=9)
    )
    office = ours(5, gateway=Gateway.office, external_id="O-5", performed_at=None, created_at=NOON)
    everything = [payme, click, card, bank, office]
    ledger = {1: booked(), 2: booked(), 3: booked(), 4: booked()}  # the office payment was never booked
    statement = Statement((line(1),))  # Payme's file; Click's not imported
    found = {
        gateway: reconcile(
            gateway, DAY, everything, ledger, statement if gateway is Gateway.payme else None, timezone=TZ
        )
        for gateway in Gateway
    }
    assert {g: kinds(r) for g, r in found.items()} == {
        Gateway.payme: [],
        Gateway.click: [],
        Gateway.stripe: [],
        Gateway.bank: [],  # its day is its ledger entry's, not the day it was keyed in
        Gateway.office: [Kind.not_booked],  # no entry: its day is the day it was made
    }
    assert {g: r.payments for g, r in found.items()} == dict.fromkeys(Gateway, 1)
    # A statement handed to a gateway without files is not read.
    assert (
        reconcile(Gateway.stripe, DAY, everything, ledger, Statement((line(8),)), timezone=TZ).differences
        == []
    )


def test_the_same_sides_in_any_order_give_the_same_differences():
    everything = [ours(n, amount_minor=AMOUNT + n) for n in range(1, 30)]
    ledger = {n: booked(AMOUNT) for n in range(1, 30, 2)}
    statement = Statement(tuple(line(n) for n in range(1, 40, 3)))
    first = reconcile(Gateway.payme, DAY, everything, ledger, statement, timezone=TZ)
    shuffled = everything[:]
    random.Random(4).shuffle(shuffled)
    again = reconcile(
        Gateway.payme, DAY, shuffled, dict(reversed(list(ledger.items()))), statement, timezone=TZ
    )
    assert first.differences == again.differences
    assert {d.kind for d in first.differences} >= {
        Kind.not_booked,
        Kind.amount_mismatch_ledger,
        Kind.amount_differs,
        Kind.missing_in_statement,
        Kind.missing_in_ours,
    }
