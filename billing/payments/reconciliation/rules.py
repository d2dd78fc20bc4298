"""The reconciliation of one gateway's day, as pure rules: what does not agree, and why.

Three sides are compared (docs/reconciliation.md):

- ours: each payment as the gateway's transaction left it (status, amount, the provider's
  perform and cancel moments);
- the ledger: per payment, its payment entries and its refund entries;
- for Payme and Click, the provider's statement file, when one was imported for the day.

The day of a payment is the city's calendar day (`timezone`) it was paid on: a Payme or Click
transaction's `performed_at`; a card, bank or office payment (no provider moment) the
`occurred_at` of its ledger payment entry, or, when the ledger has none, the day it was
created. A refund counts on the day of its cancel (Payme, Click) or of its last refund entry,
or, with no entry at all, on the payment's own day. No I/O here: the service gathers the sides.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from billing.models import DEFAULT_CURRENCY, MERCHANT_GATEWAYS, Gateway, PaymentStatus, StatementState
from housing.clock import local_day, local_midnight
from housing.i18n import plain_money


class Kind(StrEnum):
    """What disagrees. The first six compare ours with the ledger, the rest ours with the statement."""

    not_booked = "not_booked"  # paid, but the ledger has no payment entry for it
    booked_twice = "booked_twice"  # the ledger has more than one payment entry for it
    amount_mismatch_ledger = "amount_mismatch_ledger"  # one payment entry, of another amount
    booked_not_paid = "booked_not_paid"  # a payment entry for a payment that was never paid
    refund_not_booked = "refund_not_booked"  # handed back (or cancelled after perform), no refund entry
    refund_mismatch_ledger = "refund_mismatch_ledger"  # refund entries that add up to something else
    missing_in_statement = "missing_in_statement"  # ours performed (or refunded) that day, not in the file
    missing_in_ours = "missing_in_ours"  # in the file, and we have no such transaction
    amount_differs = "amount_differs"  # the file's amount is not ours
    account_differs = "account_differs"  # the file's personal account is not our payment's
    state_differs = "state_differs"  # e.g. the file says performed, ours is cancelled


LEDGER_KINDS = frozenset(
    {
        Kind.not_booked,
        Kind.booked_twice,
        Kind.amount_mismatch_ledger,
        Kind.booked_not_paid,
        Kind.refund_not_booked,
        Kind.refund_mismatch_ledger,
    }
)
STATEMENT_GATEWAYS = MERCHANT_GATEWAYS  # the providers whose statement files we import
PAID = frozenset({PaymentStatus.succeeded, PaymentStatus.refunded})


@dataclass(frozen=True, slots=True)
class Ours:
    """One of our payments as the gateway's transaction left it."""

    payment_id: int
    gateway: Gateway
    external_id: str | None
    apartment_id: int
    account_number: str
    amount_minor: int
    status: PaymentStatus
    created_at: datetime
    refunded_minor: int = 0
    performed_at: datetime | None = None
    canceled_at: datetime | None = None
    company_id: int | None = None  # the company managing the apartment's building on the day

    @property
    def paid(self) -> bool:
        return self.status in PAID

    @property
    def handed_back_minor(self) -> int:
        """What we say went back to the payer: all of it once refunded, else what was refunded so far."""
        return self.amount_minor if self.status is PaymentStatus.refunded else self.refunded_minor

    @property
    def cancelled_after_perform(self) -> bool:
        return self.performed_at is not None and self.canceled_at is not None


@dataclass(frozen=True, slots=True)
class Booked:
    """The ledger's entries of one payment."""

    payments: int = 0  # how many payment entries
    paid_minor: int = 0  # what they add up to, as a positive amount
    refunded_minor: int = 0  # what its refund entries add up to
    first_paid_at: datetime | None = None
    last_refunded_at: datetime | None = None


NOTHING_BOOKED = Booked()


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a provider's statement file, as imported."""

    external_id: str
    day: date
    occurred_at: datetime
    amount_minor: int
    account_number: str
    state: StatementState
    apartment_id: int | None = None  # the apartment with that personal account, if there is one


@dataclass(frozen=True)
class Statement:
    """The lines of the day's file, and any line of another day for the same transactions.

    `covers` is the companies whose payments the day's file speaks for (a company manager
    imports the lines of their own accounts only); None: every payment of the city.
    """

    lines: tuple[Line, ...] = ()
    covers: frozenset[int] | None = None

    def of_day(self, day: date) -> list[Line]:
        return [line for line in self.lines if line.day == day]

    def covers_payment(self, ours: Ours) -> bool:
        return self.covers is None or ours.company_id in self.covers


@dataclass(frozen=True, slots=True)
class Difference:
    kind: Kind
    detail: str
    payment_id: int | None = None
    external_id: str | None = None
    apartment_id: int | None = None
    ours_minor: int | None = None
    theirs_minor: int | None = None


@dataclass(frozen=True)
class DayResult:
    """What the reconciliation of a gateway's day found: its payments, refunds and differences."""

    gateway: Gateway
    day: date
    payments: int = 0  # ours paid that day
    paid_minor: int = 0
    refunded_minor: int = 0  # ours handed back that day
    statement_lines: int | None = None  # the day's file; None when none was imported
    differences: list[Difference] = field(default_factory=list)


def paid_day(ours: Ours, booked: Booked, timezone: str) -> date | None:
    """The city's day the payment was paid on; None for one neither paid nor booked."""
    if ours.gateway in MERCHANT_GATEWAYS and ours.performed_at is not None:
        return local_day(ours.performed_at, timezone)
    if booked.first_paid_at is not None:
        return local_day(booked.first_paid_at, timezone)
    if ours.paid:
        return local_day(ours.created_at, timezone)
    return None


def refund_day(ours: Ours, booked: Booked, timezone: str) -> date | None:
    """The city's day its refund counts on; None for a payment nothing of which went back."""
    if ours.gateway in MERCHANT_GATEWAYS and ours.cancelled_after_perform:
        assert ours.canceled_at is not None
        return local_day(ours.canceled_at, timezone)
    if booked.last_refunded_at is not None:
        return local_day(booked.last_refunded_at, timezone)
    if ours.handed_back_minor:
        return paid_day(ours, booked, timezone)
    return None


def reconcile(
    gateway: Gateway,
    day: date,
    ours: Iterable[Ours],
    booked: Mapping[int, Booked],
    statement: Statement | None,
    *,
    timezone: str,
) -> DayResult:
    """Every difference of the gateway's day, ledger first, then the statement's, in a stable order.

    `ours` may hold payments of other days and gateways (the service gathers candidates):
    only the gateway's payments paid or refunded on `day`, and those the day's lines name,
    are looked at. `statement` is None for a gateway without statement files.
    """
    gateway = Gateway(gateway)
    mine = [o for o in ours if o.gateway == gateway]
    paid = [o for o in mine if paid_day(o, booked.get(o.payment_id, NOTHING_BOOKED), timezone) == day]
    refunds = [o for o in mine if refund_day(o, booked.get(o.payment_id, NOTHING_BOOKED), timezone) == day]
    differences: list[Difference] = []
    for o in sorted(paid, key=_order):
        differences += _ledger_payment(o, booked.get(o.payment_id, NOTHING_BOOKED))
    for o in sorted(refunds, key=_order):
        differences += _ledger_refund(o, booked.get(o.payment_id, NOTHING_BOOKED))
    lines: int | None = None
    if statement is not None and gateway in STATEMENT_GATEWAYS:
        day_lines = statement.of_day(day)
        lines = len(day_lines) or None
        if day_lines:
            differences += _statement(gateway, day, mine, statement, day_lines, timezone)
    performed = [o for o in paid if o.paid]
    return DayResult(
        gateway=gateway,
        day=day,
        payments=len(performed),
        paid_minor=sum(o.amount_minor for o in performed),
        refunded_minor=sum(o.handed_back_minor for o in refunds),
        statement_lines=lines,
        differences=differences,
    )


def _order(o: Ours) -> tuple[int, str]:
    return (o.payment_id, o.external_id or "")


def _money(minor: int) -> str:
    return plain_money(minor, DEFAULT_CURRENCY)


def _ours(o: Ours, kind: Kind, detail: str, *, ours: int | None, theirs: int | None) -> Difference:
    return Difference(
        kind=kind,
        detail=detail[:500],
        payment_id=o.payment_id,
        external_id=o.external_id,
        apartment_id=o.apartment_id,
        ours_minor=ours,
        theirs_minor=theirs,
    )


def _ledger_payment(o: Ours, b: Booked) -> list[Difference]:
    name = f"payment {o.payment_id}"
    if not o.paid:
        if b.payments:
            return [
                _ours(
                    o,
                    Kind.booked_not_paid,
                    f"{name} is {o.status}, but the ledger has {_money(b.paid_minor)} paid for it",
                    ours=0,
                    theirs=b.paid_minor,
                )
            ]
        return []
    if b.payments == 0:
        return [
            _ours(
                o,
                Kind.not_booked,
                f"{name} of {_money(o.amount_minor)} is paid, but the ledger has no payment entry for it",
                ours=o.amount_minor,
                theirs=0,
            )
        ]
    if b.payments > 1:
        return [
            _ours(
                o,
                Kind.booked_twice,
                f"{name} of {_money(o.amount_minor)} is booked {b.payments} times"
                f" ({_money(b.paid_minor)} in all)",
                ours=o.amount_minor,
                theirs=b.paid_minor,
            )
        ]
    if b.paid_minor != o.amount_minor:
        return [
            _ours(
                o,
                Kind.amount_mismatch_ledger,
                f"{name} is {_money(o.amount_minor)}, the ledger booked {_money(b.paid_minor)}",
                ours=o.amount_minor,
                theirs=b.paid_minor,
            )
        ]
    return []


def _ledger_refund(o: Ours, b: Booked) -> list[Difference]:
    back = o.handed_back_minor
    if back == b.refunded_minor:
        return []
    name = f"payment {o.payment_id}"
    if b.refunded_minor == 0:
        what = "was cancelled after it was performed" if o.cancelled_after_perform else "was refunded"
        return [
            _ours(
                o,
                Kind.refund_not_booked,
                f"{name} {what} ({_money(back)}), but the ledger has no refund entry for it",
                ours=back,
                theirs=0,
            )
        ]
    return [
        _ours(
            o,
            Kind.refund_mismatch_ledger,
            f"{name}: {_money(back)} handed back by our records, {_money(b.refunded_minor)} refunded in the ledger",
            ours=back,
            theirs=b.refunded_minor,
        )
    ]


def _state_at(o: Ours, end: datetime) -> StatementState | None:
    """Our transaction's state when the day ended; None while it was still open."""
    performed = o.performed_at is not None and o.performed_at < end
    cancelled = o.canceled_at is not None and o.canceled_at < end
    if performed:
        return StatementState.refunded if cancelled else StatementState.performed
    if cancelled and o.performed_at is None:
        return StatementState.cancelled
    return None


def _statement(
    gateway: Gateway,
    day: date,
    mine: list[Ours],
    statement: Statement,
    day_lines: list[Line],
    timezone: str,
) -> list[Difference]:
    end = local_midnight(day + timedelta(days=1), timezone)
    by_id = {o.external_id: o for o in mine if o.external_id is not None}
    differences: list[Difference] = []
    for line in sorted(day_lines, key=lambda line: line.external_id):
        o = by_id.get(line.external_id)
        if o is None:
            differences.append(
                Difference(
                    kind=Kind.missing_in_ours,
                    detail=(
                        f"{gateway} transaction {line.external_id} ({line.state}, {_money(line.amount_minor)},"
                        f" account {line.account_number}) is in the statement; we have no such transaction"
                    )[:500],
                    external_id=line.external_id,
                    apartment_id=line.apartment_id,
                    ours_minor=None,
                    theirs_minor=_moved(line),
                )
            )
            continue
        differences += _line_against_ours(gateway, line, o, end)
    lines_of = _lines_by_id(statement)
    for o in sorted(mine, key=_order):
        if o.external_id is None or not statement.covers_payment(o):
            continue
        theirs = lines_of.get(o.external_id, [])
        if o.performed_at is not None and local_day(o.performed_at, timezone) == day:
            explained = any(
                line.day == day or (line.day > day and line.state is StatementState.refunded)
                for line in theirs
            )
            if not explained:
                differences.append(_missing(gateway, o, "performed", day, theirs, o.amount_minor))
        refunded_today = o.canceled_at is not None and local_day(o.canceled_at, timezone) == day
        if o.cancelled_after_perform and refunded_today and not any(line.day == day for line in theirs):
            differences.append(_missing(gateway, o, "refunded", day, theirs, o.handed_back_minor))
    return differences


def _moved(line: Line) -> int:
    """The money the line says moved: none for a transaction cancelled before it was performed."""
    return 0 if line.state is StatementState.cancelled else line.amount_minor


def _lines_by_id(statement: Statement) -> dict[str, list[Line]]:
    found: dict[str, list[Line]] = {}
    for line in statement.lines:
        found.setdefault(line.external_id, []).append(line)
    return found


def _line_against_ours(gateway: Gateway, line: Line, o: Ours, end: datetime) -> list[Difference]:
    name = f"{gateway} transaction {line.external_id}"
    found = []
    if o.amount_minor != line.amount_minor:
        found.append(
            _ours(
                o,
                Kind.amount_differs,
                f"{name}: the statement says {_money(line.amount_minor)}, ours is {_money(o.amount_minor)}",
                ours=o.amount_minor,
                theirs=line.amount_minor,
            )
        )
    if o.account_number != line.account_number:
        found.append(
            _ours(
                o,
                Kind.account_differs,
                f"{name}: the statement names account {line.account_number}, ours was paid to {o.account_number}",
                ours=o.amount_minor,
                theirs=line.amount_minor,
            )
        )
    state = _state_at(o, end)
    if state is not line.state:
        ours_state = state.value if state is not None else f"still open ({o.status})"
        found.append(
            _ours(
                o,
                Kind.state_differs,
                f"{name}: the statement says {line.state}, ours was {ours_state} at the end of {line.day}",
                ours=o.amount_minor if state in (StatementState.performed, StatementState.refunded) else 0,
                theirs=_moved(line),
            )
        )
    return found


def _missing(gateway: Gateway, o: Ours, what: str, day: date, theirs: list[Line], amount: int) -> Difference:
    elsewhere = "; ".join(f"the statement of {line.day} has it {line.state}" for line in theirs)
    detail = f"{gateway} transaction {o.external_id} {what} on {day} ({_money(amount)}) is not in the day's statement"
    return _ours(
        o,
        Kind.missing_in_statement,
        detail + (f"; {elsewhere}" if elsewhere else ""),
        ours=amount,
        theirs=None,
    )
