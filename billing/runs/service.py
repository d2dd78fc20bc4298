"""The monthly billing run: one invoice per personal account (apartment) and month.

For each apartment without an invoice for the period, a line per service with a tariff in
force for the apartment's company (its own tariff wins over the city-wide one):

- a service billed by meter (`Service.meter_kind`, a per_unit tariff): the month by
  `sensors.usage.estimation.estimate_month`, the rule the one-meter preview uses too
  (`billing.runs.estimates`): the consumption of the apartment's meter of that kind over the
  month ("metered", or "metered_estimated" with its hours when a boundary was extended or
  interpolated across a long silence; a manual meter: its month's reading less the one
  before); without it the meter's average month ("average", needs 3 metered months of the
  last 12), for at most 3 months in a row (the apartment's earlier lines of the service are
  counted back through the months billed without a reading); without that the service's
  per_person tariff times registered residents ("norm", the line says why). The first
  month metered again after such months carries a "recalculation" line settling them
  (`billing.runs.estimates.recalculate`); an invoice whose total comes out below zero books a
  ledger adjustment (a credit) instead of a charge. Without an apartment meter: for heat,
  the building's common heat meter shared by area ("shared": the building's consumption x
  the apartment's m2 / all its apartments' m2, priced exactly and rounded once); otherwise
  the per_person tariff ("norm": cold water at 49,019.60 UZS a person);
- per_m2 (management fee): the apartment's area; per_person (waste): registered residents;
  fixed: one a month. Flat lines with a zero quantity are left out.
- deductions: the building's service incidents overlapping the month, through
  `billing.tariffs.pricing.quality_deduction` (hot water and heating have rules); a planned outage
  counts only beyond its allowed interruption (`housing.incidents.allowances`). Hours of hot
  water below 40 C are billed at the cold-water tariff of the same basis
  (`billing.tariffs.pricing.cold_water_price`), and the deduction comes off the hot part.

The norms, deduction steps, outage allowances and the due day are the run's `rules`
(`billing.rules.BillingRules`, read from settings by the caller; the defaults are shown here).
Invoices are numbered "{year}-{sequence:06d}" per company and year (max + 1), issued at
once, due on the 15th of the next month or, for an invoice issued late, `min_days_to_pay`
days after its issue date (`billing.ledger.penalties.due_date`; `HOUSING_BILLING__MIN_DAYS_TO_PAY`),
with one ledger charge of their total ("charge:{invoice_id}"). An account already in credit (its balance negative before the
charge) is settled at once (`billing.ledger.service.settle_invoices`): paid or partially paid.

Drafting and numbering are apart: a batch's invoices are drafted (everything costly: the
consumption, prices, deductions, explanations) without any lock, then a transaction-scoped
PostgreSQL advisory lock is taken only to number and write them (their ids and the lines'
rows are made before it). Under it the run leaves
out the apartments another transaction billed since the drafts were made (read committed:
the lock is free only once that transaction has committed) and reads each company's last
number; it holds the lock until its transaction ends, so two transactions never number the
same sequence and numbers have no gaps. The issue time is stamped under the lock too
(`housing.clock.now`), so numbers follow issue time: a company's later number never
carries an earlier `issued_at`, whichever process or batch issued it. `run_billing` tries the lock and, taken, is
locked out and writes nothing; `wait=True` (the workers of `billing.jobs.bill_period`,
which bill batches in parallel transactions) waits for it, at most `LOCK_WAIT`. Within a
batch numbers follow the apartments' order. A second run finds every account billed
(unique apartment and period) and issues nothing. A dry run computes and numbers the same
invoices and writes nothing. `draft_invoices` and `issue_invoices` are the two halves, for
a caller that holds its own transactions.

How it scales: apartments are read in batches of `BATCH` by id, and each batch is worked
out with a handful of queries whatever its size: the apartments with their company, their
meters, the consumption of all those meters (`sensors.usage.bulk.period_consumption`: the
readings next to the month's ends, the backwards check done in SQL, the pure rules of
`sensors.usage.consumption` unchanged), the buildings' common heat meters and areas, the
incidents, the earlier averaged lines of the apartments whose meter has no consumption, and
the balances (to find accounts in credit). Tariffs and meter replacements
are read once a run (`PreparedRun`, which a worker of `billing.jobs.bill_period` keeps from
batch to batch), and a flat quantity is priced once for each price history (flat lines
repeat, and the companies without a tariff of their own share the city's).
The invoices, lines and charges are written with three bulk inserts (COPY on PostgreSQL)
under ids reserved beforehand, with no ORM objects. Only what is rare goes one meter at a
time: a meter without a month's consumption (its average), one with staff corrections, and
an account in credit (settled).

Simplifications (known, not done here): the count of averaged months looks back 12 months
(a longer row has no average anyway) and a month without an invoice ends the row; a
building's heat is shared over all its apartments' area, those with their own heat meter
included (their metered heat is not taken off the building's first), and a month when the
building's heat meter has no consumption gets no heating line (a warning), not the meter's
average; hours below 40 C are repriced at the cold-water tariff of the line's basis, and
a service without one keeps its hot-water price (the line says so).
"""

import calendar
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, text
from sqlmodel import Session, col, select

from billing.ledger.penalties import due_date
from billing.ledger.service import settle_invoices
from billing.models import (
    DEFAULT_CURRENCY,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    QuantitySource,
    Service,
)
from billing.rules import DEFAULT_RULES, BillingRules
from billing.runs.estimates import EstimatedLine, averaged, estimated_rows, recalculate
from billing.tariffs.pricing import (
    Basis,
    Incident,
    LineCharge,
    TariffVersion,
    cold_water_price,
    price_line,
    quality_deduction,
)
from billing.tariffs.service import all_tariffs, merged_versions
from housing import clock
from housing.db import advisory_lock, among, insert_rows, reserve_ids
from housing.errors import Invalid
from housing.incidents.allowances import allowed_interruption
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.registry.models import Apartment, BuildingManagement, ManagementCompany
from sensors.models import Meter, MeterKind
from sensors.usage.bulk import period_consumption, replacements
from sensors.usage.consumption import DEFAULT_TIMEZONE, DEFAULT_TOLERANCE, QUANTITY, ConsumptionResult
from sensors.usage.estimation import estimate_month
from sensors.usage.series import meter_average, meter_consumption

BATCH = 2000
MAX_WARNINGS = 100
LOCK_KEY = zlib.crc32(b"housing-billing-run")
LOCK_WAIT = 300  # seconds a batch waits for the lock before it fails (and stays unbilled)
FLAT = (Basis.per_m2, Basis.per_person, Basis.fixed)
SHARED_KINDS = (MeterKind.heat,)  # a building's common meter shared by area among its flats


@dataclass(frozen=True, slots=True)
class DraftLine:
    service_id: int
    service_code: str
    tariff_id: int | None
    basis: Basis
    quantity: Decimal
    quantity_source: QuantitySource
    amount_minor: int
    deduction_minor: int = 0
    deduction_reason: str = ""
    explanation: dict[str, Any] = field(default_factory=dict)

    @property
    def net_minor(self) -> int:
        return self.amount_minor - self.deduction_minor


@dataclass(frozen=True, slots=True)
class DraftInvoice:
    apartment_id: int
    company_id: int
    period: date
    due_date: date
    lines: tuple[DraftLine, ...]
    sequence: int | None = None  # numbered under the lock, just before it is written
    number: str | None = None

    @property
    def total_minor(self) -> int:
        return sum(line.net_minor for line in self.lines)


@dataclass
class RunSummary:
    period: date
    dry_run: bool
    locked_out: bool = False  # another run holds the lock: nothing was done
    issued: int = 0
    total_minor: int = 0
    without_manager: int = 0
    without_lines: int = 0
    failed: int = 0  # apartments held back, see warnings
    warning_count: int = 0
    warnings: list[str] = field(default_factory=list)  # the first MAX_WARNINGS
    # The would-be invoices of a dry run; a real run keeps only the counts (bounded memory).
    invoices: list[DraftInvoice] = field(default_factory=list)

    def warn(self, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)

    def __str__(self) -> str:
        if self.locked_out:
            return f"billing {self.period:%Y-%m}: skipped, another billing run holds the lock"
        verb = "would issue" if self.dry_run else "issued"
        text = (
            f"billing {self.period:%Y-%m}: {verb} {self.issued} invoices totalling {self.total_minor} tiyin"
        )
        if self.without_manager:
            text += f", {self.without_manager} apartments without a managing company"
        if self.without_lines:
            text += f", {self.without_lines} with nothing to bill"
        if self.failed:
            text += f", {self.failed} held back"
        if self.warning_count:
            text += f", {self.warning_count} warnings"
        return text


@dataclass(frozen=True, slots=True)
class _Apartment:
    id: int
    building_id: int
    area_m2: Decimal
    residents: int
    company_id: int | None


@dataclass(frozen=True, slots=True)
class _Service:
    """A service as the run needs it: plain values, read once (no ORM attribute per line)."""

    id: int
    code: str
    meter_kind: str | None  # the MeterKind's value; None: not billed by meter
    utility: str | None


@dataclass(frozen=True, slots=True)
class _Chosen:
    """The tariff row a line names: its id and basis."""

    id: int
    basis: Basis


@dataclass(frozen=True, slots=True)
class _TariffRow:
    id: int
    company_id: int | None
    valid_from: date


class _Tariffs:
    """The services and the tariffs overlapping the period, and each company's price history.

    Every tariff is read at the start (a few queries) and kept as plain values, so that a
    worker can keep them from one transaction to the next. The histories are merged then:
    the city's of each service and basis, and each company's with tariffs of its own; the
    other companies share the city's, so a flat quantity is priced once for all of them.
    """

    def __init__(self, session: Session, start: date, end: date) -> None:
        self.start = start
        self.services = [
            _Service(s.id, s.code, None if s.meter_kind is None else str(s.meter_kind), s.utility)
            for s in session.exec(select(Service).order_by(Service.id))
            if s.id is not None
        ]
        self.cold_water = [s for s in self.services if s.utility == Utility.cold_water]
        rows, tiers, norms = all_tariffs(session)
        self.rows: dict[tuple[int, Basis], list[_TariffRow]] = defaultdict(list)
        for row in rows:
            if (
                row.id is not None
                and row.valid_from < end
                and (row.valid_until is None or row.valid_until > start)
            ):
                self.rows[(row.service_id, Basis(row.basis))].append(
                    _TariffRow(row.id, row.company_id, row.valid_from)
                )
        # (service, basis, company or None for the city's) -> (key shared by equal histories, history)
        self._histories: dict[tuple[int, Basis, int | None], tuple[int, list[TariffVersion]]] = {}
        keys: dict[tuple[TariffVersion, ...], int] = {}
        owners = {(r.service_id, Basis(r.basis), r.company_id) for r in rows}
        for service_id, basis, company_id in sorted(owners, key=lambda k: (k[0], k[1], k[2] or 0)):
            versions = merged_versions(
                (
                    r
                    for r in rows
                    if r.service_id == service_id and r.basis == basis and r.company_id in (None, company_id)
                ),
                tiers,
                norms,
            )
            self._histories[(service_id, basis, company_id)] = (
                keys.setdefault(tuple(versions), len(keys)),
                versions,
            )
        self._chosen: dict[tuple[int, Basis, int], _Chosen | None] = {}

    def tariff(self, service_id: int, basis: Basis, company_id: int) -> _Chosen | None:
        """The tariff row in force for the company: its own first, on the period's first day first."""
        key = (service_id, basis, company_id)
        if key not in self._chosen:
            rows = [r for r in self.rows[(service_id, basis)] if r.company_id in (None, company_id)]
            row = min(
                rows,
                key=lambda r: (r.company_id is None, r.valid_from > self.start, -r.valid_from.toordinal()),
                default=None,
            )
            self._chosen[key] = None if row is None else _Chosen(row.id, basis)
        return self._chosen[key]

    def history(self, service_id: int, basis: Basis, company_id: int) -> tuple[int, list[TariffVersion]]:
        """The company's price history of the service and basis, and a key shared by equal histories."""
        found = self._histories.get((service_id, basis, company_id))
        if found is None:
            found = self._histories.get((service_id, basis, None), (-1, []))
        return found


class PreparedRun:
    """What every batch of a period's run shares, read once and kept by the worker from batch to batch.

    The services and tariffs, the meter replacements and the prices of flat quantities. A
    worker of `billing.jobs.bill_period` prepares it in a transaction of its own before its
    first batch, so the rows it holds are loaded and detached (a batch rolled back cannot
    expire them); `run_billing` prepares one itself when not given one.
    """

    def __init__(
        self,
        session: Session,
        period: date,
        timezone: str = DEFAULT_TIMEZONE,
        tolerance: timedelta = DEFAULT_TOLERANCE,
    ) -> None:
        self.period = period
        self.timezone = timezone
        self.tolerance = tolerance  # how far a smart meter's reading may be extended to a boundary
        self.bounds = month_bounds(period, timezone)
        start, end, _, _ = self.bounds
        self.tariffs = _Tariffs(session, start, end)
        self.replaced = replacements(session)  # meter -> the meter it replaced
        # (history key, quantity) -> the charge and its parts, for flat lines (see `_price`)
        self.prices: dict[tuple[int, Decimal | Fraction], tuple[LineCharge, list[dict[str, Any]]]] = {}


def charge_key(invoice_id: int | None) -> str:
    return f"charge:{invoice_id}"


def month_bounds(period: date, timezone: str = DEFAULT_TIMEZONE) -> tuple[date, date, datetime, datetime]:
    """The month's first day, the next month's first day, and both as local midnights."""
    end = period + timedelta(days=calendar.monthrange(period.year, period.month)[1])
    zone = ZoneInfo(timezone)
    return period, end, datetime.combine(period, time(), zone), datetime.combine(end, time(), zone)


def run_billing(
    session: Session,
    *,
    period: date,
    today: date,
    dry_run: bool = False,
    apartment_ids: Sequence[int] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    wait: bool = False,
    prepared: PreparedRun | None = None,
    rules: BillingRules = DEFAULT_RULES,
) -> RunSummary:
    """Issues the period's missing invoices (flushes, never commits); see the module's docstring.

    Each batch is drafted without the lock, then numbered and written under it. With `wait`
    the lock is waited for (at most `LOCK_WAIT`; other transactions hold it only while they
    number and write a batch); without it a run that finds the lock taken is locked out and
    writes nothing. `prepared` (`PreparedRun` of the same period and timezone) is what a
    caller billing batch after batch keeps between them; without it the run reads its own.
    `rules` are the configured norms, allowances and due day (`BillingRules.from_settings`).
    """
    check_period(period, today, timezone)
    summary = RunSummary(period=period, dry_run=dry_run)
    if prepared is None:
        prepared = PreparedRun(session, period, timezone, rules.tolerance)
    _run(session, summary, period, timezone, apartment_ids, wait=wait, prepared=prepared, rules=rules)
    return summary


def draft_invoices(
    session: Session,
    *,
    period: date,
    today: date,
    apartment_ids: Sequence[int],
    timezone: str = DEFAULT_TIMEZONE,
    rules: BillingRules = DEFAULT_RULES,
) -> tuple[RunSummary, list[DraftInvoice]]:
    """The unnumbered invoices of one batch of apartments, drafted without the lock; nothing is written.

    `issue_invoices` numbers and writes them. `run_billing` does both, batch by batch.
    """
    check_period(period, today, timezone)
    summary = RunSummary(period=period, dry_run=False)
    run = _context(
        session, summary, period, timezone, PreparedRun(session, period, timezone, rules.tolerance), rules
    )
    drafts: list[DraftInvoice] = []
    after = 0
    while batch := _apartments(session, period, timezone, after, apartment_ids):
        after = batch[-1].id
        drafts.extend(_draft_batch(run, batch))
    return summary, drafts


def issue_invoices(
    session: Session,
    summary: RunSummary,
    drafts: list[DraftInvoice],
    *,
    wait: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
    min_days_to_pay: int = DEFAULT_RULES.min_days_to_pay,
) -> bool:
    """Numbers and writes drafts under the lock, leaving out the apartments billed meanwhile.

    False, with nothing written, when the lock is taken and `wait` is not given.
    """
    return _issue(session, summary, drafts, {}, wait=wait, timezone=timezone, min_days_to_pay=min_days_to_pay)


def check_period(period: date, today: date, timezone: str = DEFAULT_TIMEZONE) -> None:
    """Raises Invalid unless `period` is a month's first day and the month has ended by `today`."""
    if period.day != 1:
        raise Invalid(f"a billing period is a month's first day, not {period.isoformat()}", field="period")
    _, end, _, _ = month_bounds(period, timezone)
    if end > today:
        raise Invalid(
            f"{period:%Y-%m} has not ended on {today.isoformat()}; bill it from {end}", field="period"
        )


def unbilled_apartment_ids(session: Session, period: date) -> list[int]:
    """Ids of the apartments without an invoice for the period, in id order."""
    billed = exists().where(Invoice.apartment_id == Apartment.id, Invoice.period == period)
    return list(session.exec(select(Apartment.id).where(~billed).order_by(Apartment.id)))


@dataclass
class _Context:
    """What every batch of a run shares: the prepared part, and this transaction's numbers."""

    session: Session
    summary: RunSummary
    prepared: PreparedRun
    rules: BillingRules
    # company -> the last invoice number used; filled under the lock (or in a dry run), which
    # a real run then holds to the end of its transaction, so the numbers stay its own
    sequences: dict[int, int] = field(default_factory=dict)

    @property
    def tariffs(self) -> _Tariffs:
        return self.prepared.tariffs

    @property
    def period(self) -> date:
        return self.prepared.period

    @property
    def timezone(self) -> str:
        return self.prepared.timezone

    @property
    def bounds(self) -> tuple[date, date, datetime, datetime]:
        return self.prepared.bounds


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a batch's lines are worked out from, read with a few queries for the whole batch."""

    meters: dict[tuple[int, str], int]  # (apartment, kind) -> meter
    usage: dict[int, ConsumptionResult]  # meter -> its consumption in the month
    incidents: dict[int, list[Incident]]  # building -> its incidents overlapping the month
    common: dict[tuple[int, str], int]  # (building, kind) -> its common meter (SHARED_KINDS)
    areas: dict[int, Decimal]  # building -> its apartments' total area (buildings with a common meter)
    # (apartment, service) -> the row of months just before this one billed without a reading
    estimated: dict[tuple[int, int], list[EstimatedLine]]


def _context(
    session: Session,
    summary: RunSummary,
    period: date,
    timezone: str,
    prepared: PreparedRun | None,
    rules: BillingRules,
) -> _Context:
    if session.get_bind().dialect.name == "postgresql":
        # Compiling each batch's queries costs more than it saves; ends with the transaction.
        session.execute(text("SET LOCAL jit = off"))
    if prepared is None:
        prepared = PreparedRun(session, period, timezone, rules.tolerance)
    elif (prepared.period, prepared.timezone) != (period, timezone):
        raise ValueError(
            f"prepared for {prepared.period:%Y-%m} in {prepared.timezone}, not {period:%Y-%m} in {timezone}"
        )
    return _Context(session, summary, prepared, rules)


def _run(
    session: Session,
    summary: RunSummary,
    period: date,
    timezone: str,
    apartment_ids: Sequence[int] | None,
    *,
    wait: bool,
    prepared: PreparedRun | None,
    rules: BillingRules,
) -> None:
    run = _context(session, summary, period, timezone, prepared, rules)
    after = 0
    while batch := _apartments(session, period, timezone, after, apartment_ids):
        after = batch[-1].id
        drafts = _draft_batch(run, batch)
        if summary.dry_run:
            numbered = _number(session, drafts, run.sequences)
            summary.issued += len(numbered)
            summary.total_minor += sum(d.total_minor for d in numbered)
            summary.invoices.extend(numbered)
        elif not _issue(
            session,
            summary,
            drafts,
            run.sequences,
            wait=wait,
            timezone=timezone,
            min_days_to_pay=rules.min_days_to_pay,
        ):
            summary.locked_out = True
            return


def _issue(
    session: Session,
    summary: RunSummary,
    drafts: list[DraftInvoice],
    sequences: dict[int, int],
    *,
    wait: bool,
    timezone: str = DEFAULT_TIMEZONE,
    min_days_to_pay: int = DEFAULT_RULES.min_days_to_pay,
) -> bool:
    """Takes the lock, leaves out what another run billed since the drafts were made, numbers, writes.

    The numbers are max + 1 read under the lock, which is held until the transaction ends,
    so no other transaction can number the same company and year before this one commits.
    The issue time (and from it the due date) is stamped under the lock as well, so a later
    number is never issued earlier. The ids and the lines' rows are made before the lock
    (they do not depend on numbers), so the lock covers only the check, the numbering and
    the writes.
    """
    if not drafts:
        return True
    rows = _Rows(session, drafts)
    if not _lock(session, wait=wait):
        return False
    billed = set(
        session.exec(
            select(Invoice.apartment_id).where(
                Invoice.period == drafts[0].period,
                among(session, Invoice.apartment_id, [d.apartment_id for d in drafts]),
            )
        )
    )
    numbered = _number(session, [d for d in drafts if d.apartment_id not in billed], sequences)
    rows.write(session, numbered, timezone=timezone, min_days_to_pay=min_days_to_pay)
    summary.issued += len(numbered)
    summary.total_minor += sum(d.total_minor for d in numbered)
    return True


def _lock(session: Session, *, wait: bool) -> bool:
    """The run's transaction-scoped advisory lock: tried, or waited for at most `LOCK_WAIT`.

    Waiting past `LOCK_WAIT` raises (the transaction is lost, its apartments stay unbilled).
    """
    if not wait or session.get_bind().dialect.name != "postgresql":
        with advisory_lock(session, LOCK_KEY) as granted:  # held until the transaction ends
            return granted
    session.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": f"{LOCK_WAIT}s"})
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))  # the writes wait as they always did
    return True


def _apartments(
    session: Session, period: date, timezone: str, after: int, only: Sequence[int] | None
) -> list[_Apartment]:
    """The next batch of unbilled apartments, each with the company managing it on the month's last day."""
    _, end, _, _ = month_bounds(period, timezone)
    last_day = end - timedelta(days=1)
    billed = exists().where(Invoice.apartment_id == Apartment.id, Invoice.period == period)
    query = (
        select(
            Apartment.id,
            Apartment.building_id,
            Apartment.area_m2,
            Apartment.registered_residents,
            BuildingManagement.company_id,
        )
        .outerjoin(
            BuildingManagement,
            (BuildingManagement.building_id == Apartment.building_id)
            & (BuildingManagement.valid_from <= last_day)
            & or_(col(BuildingManagement.valid_until).is_(None), BuildingManagement.valid_until > last_day),
        )
        .where(Apartment.id > after, ~billed)
        .order_by(Apartment.id)
        .limit(BATCH)
    )
    if only is not None:
        query = query.where(col(Apartment.id).in_(list(only)))
    return [_Apartment(*row) for row in session.exec(query).all()]


def _draft_batch(run: _Context, batch: list[_Apartment]) -> list[DraftInvoice]:
    session, summary, period = run.session, run.summary, run.period
    start, end, start_at, end_at = run.bounds
    meters = _meters(session, [a.id for a in batch], start, end)
    common = _common_meters(session, {a.building_id for a in batch}, start, end)
    usage = period_consumption(
        session,
        [*meters.values(), *common.values()],
        start_at,
        end_at,
        timezone=run.timezone,
        replaced=run.prepared.replaced,
        tolerance=run.prepared.tolerance,
    )
    by_kind = defaultdict(list)
    for service in run.tariffs.services:
        if service.meter_kind is not None:
            by_kind[service.meter_kind].append(service.id)
    with_meter = [(a, service_id) for (a, kind) in meters for service_id in by_kind.get(kind, ())]
    facts = _Facts(
        meters=meters,
        usage=usage,
        incidents=_incidents(session, {a.building_id for a in batch}, start_at, end_at, run.rules),
        common=common,
        areas=_areas(session, {building_id for building_id, _ in common}),
        estimated=estimated_rows(session, with_meter, period),
    )
    due = due_date(period, due_day=run.rules.due_day)
    drafts = []
    for apartment in batch:
        if apartment.company_id is None:
            summary.without_manager += 1
            continue
        try:
            lines = _lines(run, facts, apartment)
        except ValueError as exc:  # a tariff that does not cover the month: hold this invoice back
            summary.warn(f"apartment {apartment.id}: not billed, {exc}")
            summary.failed += 1
            continue
        if not lines:
            summary.without_lines += 1
            continue
        drafts.append(
            DraftInvoice(
                apartment_id=apartment.id,
                company_id=apartment.company_id,
                period=period,
                due_date=due,
                lines=tuple(lines),
            )
        )
    return drafts


def _number(session: Session, drafts: list[DraftInvoice], sequences: dict[int, int]) -> list[DraftInvoice]:
    """The drafts numbered in their order (apartment id), each company's after its last number of the year.

    A company's last number is read once (one query for the batch's new companies) and
    counted on from there: in a real run under the lock, held until the transaction ends.
    """
    if not drafts:
        return []
    year = drafts[0].period.year
    new = sorted({d.company_id for d in drafts} - sequences.keys())
    if new:
        # A max per company (the unique index's last entry), not a GROUP BY over the year's invoices.
        last = (
            select(func.max(Invoice.sequence))
            .where(Invoice.company_id == ManagementCompany.id, Invoice.year == year)
            .scalar_subquery()
        )
        rows = session.exec(
            select(ManagementCompany.id, last).where(among(session, ManagementCompany.id, new))
        )
        sequences.update((company_id, sequence or 0) for company_id, sequence in rows)
    numbered = []
    for draft in drafts:
        sequence = sequences[draft.company_id] = sequences[draft.company_id] + 1
        numbered.append(replace(draft, sequence=sequence, number=f"{year}-{sequence:06d}"))
    return numbered


def _meters(session: Session, apartment_ids: list[int], start: date, end: date) -> dict[tuple[int, str], int]:
    """(apartment, meter kind) -> the meter in service during the month (the latest installed)."""
    rows = session.exec(
        select(Meter.id, Meter.apartment_id, Meter.kind)
        .where(
            among(session, Meter.apartment_id, apartment_ids),
            Meter.installed_on < end,
            or_(col(Meter.removed_on).is_(None), Meter.removed_on > start),
        )
        .order_by(Meter.installed_on, Meter.id)
    ).all()
    return {(apartment_id, str(kind)): meter_id for meter_id, apartment_id, kind in rows}


def _common_meters(
    session: Session, building_ids: set[int], start: date, end: date
) -> dict[tuple[int, str], int]:
    """(building, kind) -> the building's common meter of a shared kind in service during the month."""
    if not building_ids:
        return {}
    rows = session.exec(
        select(Meter.id, Meter.building_id, Meter.kind)
        .where(
            among(session, Meter.building_id, sorted(building_ids)),
            col(Meter.apartment_id).is_(None),
            col(Meter.kind).in_([k.value for k in SHARED_KINDS]),
            Meter.installed_on < end,
            or_(col(Meter.removed_on).is_(None), Meter.removed_on > start),
        )
        .order_by(Meter.installed_on, Meter.id)
    ).all()
    return {(building_id, str(kind)): meter_id for meter_id, building_id, kind in rows}


def _areas(session: Session, building_ids: set[int]) -> dict[int, Decimal]:
    """building -> the total area of its apartments (what a common meter is shared over)."""
    if not building_ids:
        return {}
    rows = session.exec(
        select(Apartment.building_id, func.sum(Apartment.area_m2))
        .where(among(session, Apartment.building_id, sorted(building_ids)))
        .group_by(Apartment.building_id)
    ).all()
    return {building_id: Decimal(total) for building_id, total in rows}


def _incidents(
    session: Session, building_ids: set[int], start_at: datetime, end_at: datetime, rules: BillingRules
) -> dict[int, list[Incident]]:
    """building -> its incidents overlapping the month; a planned outage's allowance counts for nothing."""
    rows = session.exec(
        select(
            ServiceIncident.building_id,
            ServiceIncident.started_at,
            ServiceIncident.ended_at,
            ServiceIncident.deviation,
            ServiceIncident.utility,
            ServiceIncident.source,
        ).where(
            col(ServiceIncident.building_id).in_(building_ids),
            ServiceIncident.started_at < end_at,
            or_(col(ServiceIncident.ended_at).is_(None), ServiceIncident.ended_at > start_at),
        )
    ).all()
    found: dict[int, list[Incident]] = defaultdict(list)
    for building_id, started_at, ended_at, deviation, utility, source in rows:
        allowed = timedelta(0)
        if source == IncidentSource.planned:
            allowed = allowed_interruption(Utility(utility), IncidentSource.planned, rules.outages)
        found[building_id].append(Incident(started_at, ended_at, deviation, str(utility), allowed))
    return found


def _lines(run: _Context, facts: _Facts, apartment: _Apartment) -> list[DraftLine]:
    tariffs = run.tariffs
    company_id = apartment.company_id
    assert company_id is not None
    lines = []
    for service in tariffs.services:
        priced: tuple[_Chosen, QuantitySource, Decimal | Fraction, dict[str, Any]] | None = None
        settling: DraftLine | None = None  # the recalculation of earlier estimated months
        kind = service.meter_kind
        metered = kind is not None and tariffs.tariff(service.id, Basis.per_unit, company_id)
        meter_id = facts.meters.get((apartment.id, kind)) if metered else None
        common_id = facts.common.get((apartment.building_id, kind)) if metered else None
        if metered and meter_id is not None:
            priced = _metered(run, facts, service, apartment, meter_id)
            if priced is None:
                run.summary.warn(
                    f"apartment {apartment.id}: no consumption, average or norm tariff for {service.code}"
                )
                continue
            if priced[1] in (QuantitySource.metered, QuantitySource.metered_estimated):
                settling = _recalculation(run, facts, service, apartment, meter_id)
        elif metered and common_id is not None:
            priced = _shared(run, facts, service, apartment, common_id)
            if priced is None:
                continue
        else:
            for basis in FLAT:
                tariff = tariffs.tariff(service.id, basis, company_id)
                if tariff is None:
                    continue
                quantity, source = _flat_quantity(basis, apartment, by_norm=service.meter_kind is not None)
                priced = (tariff, source, quantity, {})
                break
        if priced is None:
            continue
        tariff, source, quantity, explanation = priced
        basis = tariff.basis
        if basis is not Basis.per_unit and quantity == 0:
            continue
        charge, pricing = _price(run, service.id, basis, company_id, quantity)
        amount_minor, deduction_minor, reason = _quality(
            run, facts, service, apartment, basis, quantity, charge, explanation
        )
        if isinstance(quantity, Fraction):
            quantity = _decimal_quantity(quantity)
        lines.append(
            DraftLine(
                service_id=service.id,
                service_code=service.code,
                tariff_id=tariff.id,
                basis=basis,
                quantity=quantity,
                quantity_source=source,
                amount_minor=amount_minor,
                deduction_minor=deduction_minor,
                deduction_reason=reason,
                explanation={"source": str(source), **explanation, "pricing": pricing},
            )
        )
        if settling is not None:
            lines.append(settling)
    return lines


def _quality(
    run: _Context,
    facts: _Facts,
    service: _Service,
    apartment: _Apartment,
    basis: Basis,
    quantity: Decimal | Fraction,
    charge: LineCharge,
    explanation: dict[str, Any],
) -> tuple[int, int, str]:
    """The line's amount, its deduction for poor service and the reason (the building's incidents).

    Hours of hot water below 40 C are billed as cold water (`billing.tariffs.pricing.cold_water_price`);
    the deduction for lukewarm hours then comes off the hot part.
    """
    incidents = facts.incidents.get(apartment.building_id)
    if service.utility is None or not incidents:  # without incidents nothing comes off
        return charge.amount_minor, 0, ""
    _, _, start_at, end_at = run.bounds
    period = (start_at, end_at)
    rules = run.rules.quality
    deduction = quality_deduction(charge.amount_minor, incidents, service.utility, period, rules)
    amount_minor = charge.amount_minor
    if deduction.cold_water_hours:
        explanation["cold_water_hours"] = str(deduction.cold_water_hours)
        cold = _cold_water_charge(run, basis, apartment, quantity)
        if cold is None:
            explanation["cold_water"] = f"no cold-water tariff {basis} to reprice those hours with"
        else:
            repriced = cold_water_price(
                charge, cold, deduction.cold_water_hours, deduction.period_hours, rules
            )
            amount_minor = repriced.amount_minor
            explanation["cold_water"] = repriced.explanation
            deduction = quality_deduction(repriced.hot_part_minor, incidents, service.utility, period, rules)
    reason = deduction.explanation[:500] if deduction.amount_minor else ""
    return amount_minor, deduction.amount_minor, reason


def _cold_water_charge(
    run: _Context, basis: Basis, apartment: _Apartment, quantity: Decimal | Fraction
) -> LineCharge | None:
    """The same quantity at the cold-water tariff of the same basis, if there is one."""
    assert apartment.company_id is not None
    for service in run.tariffs.cold_water:
        if run.tariffs.tariff(service.id, basis, apartment.company_id) is not None:
            return _price(run, service.id, basis, apartment.company_id, quantity)[0]
    return None


def _decimal_quantity(quantity: Fraction) -> Decimal:
    """A share as the line's quantity column holds it: 3 decimals, half up (the amount is exact)."""
    exact = Decimal(quantity.numerator) / Decimal(quantity.denominator)
    return exact.quantize(QUANTITY, rounding=ROUND_HALF_UP)


def _price(
    run: _Context, service_id: int, basis: Basis, company_id: int, quantity: Decimal | Fraction
) -> tuple[LineCharge, list[dict[str, Any]]]:
    """The line's charge and its parts for the explanation.

    A flat line's quantity (an area, a number of residents) repeats across a city, so it is
    priced once a run (a worker's, for all companies with the same price history);
    metered quantities seldom repeat, and keeping them would only grow.
    """
    history, versions = run.tariffs.history(service_id, basis, company_id)
    key = (history, quantity)
    prices = run.prepared.prices
    if key in prices:
        return prices[key]
    start, end, _, _ = run.bounds
    charge = price_line(quantity, versions, start, end)
    priced = (charge, _pricing(charge))
    if basis is not Basis.per_unit:
        prices[key] = priced
    return priced


def _metered(
    run: _Context, facts: _Facts, service: _Service, apartment: _Apartment, meter_id: int
) -> tuple[_Chosen, QuantitySource, Decimal, dict[str, Any]] | None:
    """The month by `sensors.usage.estimation.estimate_month`: metered (its ends estimated or not),
    else the meter's average month (3 months in a row at most), else the per-person norm."""
    assert apartment.company_id is not None
    result = facts.usage[meter_id]
    per_unit = run.tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    row = facts.estimated.get((apartment.id, service.id), [])
    estimate = estimate_month(
        result,
        averaged_before=averaged(row),
        average=lambda: meter_average(
            run.session, meter_id, run.period, timezone=run.timezone, tolerance=run.prepared.tolerance
        ),
    )
    if estimate.quantity is not None and estimate.label in ("metered", "metered_estimated"):
        explanation = {
            "meter_id": meter_id,
            "start": _boundary(result.start),
            "end": _boundary(result.end),
            "extrapolated": result.extrapolated,
        }
        if estimate.estimated_hours is not None:
            explanation["estimated_hours"] = str(estimate.estimated_hours)
        if result.covers > 1:  # a manual meter read again after months: this month's share
            explanation["covers"] = result.covers
        return per_unit, QuantitySource(estimate.label), estimate.quantity, explanation
    if estimate.label == "average" and estimate.quantity is not None:
        explanation = {
            "meter_id": meter_id,
            "label": "average",
            "why": estimate.why,
            "average_period": estimate.average_period,
        }
        return per_unit, QuantitySource.average, estimate.quantity, explanation
    norm = run.tariffs.tariff(service.id, Basis.per_person, apartment.company_id)
    if norm is None:
        return None
    explanation = {"meter_id": meter_id, "label": "norm", "why": estimate.why}
    return norm, QuantitySource.norm, Decimal(apartment.residents), explanation


def _recalculation(
    run: _Context, facts: _Facts, service: _Service, apartment: _Apartment, meter_id: int
) -> DraftLine | None:
    """The line settling the months just before, billed without a reading (`billing.runs.estimates`)."""
    row = facts.estimated.get((apartment.id, service.id))
    if not row:
        return None
    assert apartment.company_id is not None
    per_unit = run.tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    _, versions = run.tariffs.history(service.id, Basis.per_unit, apartment.company_id)
    tolerance = run.prepared.tolerance

    def actual(month: date) -> ConsumptionResult:
        _, _, lo, hi = month_bounds(month, run.timezone)
        return meter_consumption(run.session, meter_id, lo, hi, timezone=run.timezone, tolerance=tolerance)

    def price(quantity: Decimal, month: date) -> int:
        start, end, _, _ = month_bounds(month, run.timezone)
        return price_line(quantity, versions, start, end).amount_minor

    settled = recalculate(row, actual, price)
    if isinstance(settled, str):
        run.summary.warn(
            f"apartment {apartment.id}: {service.code} months billed by estimate not settled: {settled}"
        )
        return None
    explanation = {
        "meter_id": meter_id,
        "label": "recalculation",
        "months": [f"{m:%Y-%m}" for m in settled.months],
        "parts": list(settled.parts),
    }
    return DraftLine(
        service_id=service.id,
        service_code=service.code,
        tariff_id=per_unit.id,
        basis=Basis.per_unit,
        quantity=settled.quantity,
        quantity_source=QuantitySource.recalculation,
        amount_minor=settled.amount_minor,
        explanation={"source": QuantitySource.recalculation.value, **explanation},
    )


def _shared(
    run: _Context, facts: _Facts, service: _Service, apartment: _Apartment, meter_id: int
) -> tuple[_Chosen, QuantitySource, Fraction, dict[str, Any]] | None:
    """The apartment's share by area of its building's common meter (heating without a meter of its own).

    The share is exact (a Fraction), so the amount is rounded once; the line's quantity
    column shows it to 3 decimals. Without the building's consumption there is no line.
    """
    assert apartment.company_id is not None
    result = facts.usage[meter_id]
    total_area = facts.areas.get(apartment.building_id, Decimal(0))
    if result.quantity is None or total_area <= 0:
        why = result.reason or "the building's apartments have no area"
        run.summary.warn(
            f"apartment {apartment.id}: no {service.code} line, the building's meter {meter_id}: {why}"
        )
        return None
    per_unit = run.tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    share = Fraction(apartment.area_m2) / Fraction(total_area)
    quantity = Fraction(result.quantity) * share
    explanation = {
        "label": "shared by area",
        "building_meter_id": meter_id,
        "building_quantity": str(result.quantity),
        "area_m2": str(apartment.area_m2),
        "total_area_m2": str(total_area),
        "share": str(_decimal_share(share)),
        "quantity": str(_decimal_share(quantity)),
        "start": _boundary(result.start),
        "end": _boundary(result.end),
        "extrapolated": result.extrapolated,
    }
    if result.estimated_hours is not None:  # the building's meter had an estimated boundary
        explanation["estimated_hours"] = str(result.estimated_hours)
    return per_unit, QuantitySource.shared, quantity, explanation


def _decimal_share(value: Fraction) -> Decimal:
    """A share for the explanation: 9 decimals, half up."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_UP).normalize()


def _flat_quantity(basis: Basis, apartment: _Apartment, *, by_norm: bool) -> tuple[Decimal, QuantitySource]:
    if basis is Basis.per_m2:
        return Decimal(apartment.area_m2), QuantitySource.area
    if basis is Basis.per_person:
        return Decimal(apartment.residents), QuantitySource.norm if by_norm else QuantitySource.residents
    return Decimal(1), QuantitySource.fixed


def _boundary(boundary: Any) -> dict[str, str] | None:
    """A boundary for the explanation, its value to 3 decimals (people read it; the sum used it exact)."""
    if boundary is None:
        return None
    value = boundary.value.quantize(QUANTITY, rounding=ROUND_HALF_UP)
    shown = {"at": boundary.at.isoformat(), "value": str(value), "how": boundary.how}
    if boundary.estimated_hours is not None:
        shown["estimated_hours"] = str(boundary.estimated_hours)
    return shown


_SUBTOTAL = Decimal("0.01")  # tiyin: a hundredth is below what any page shows


def _shown(value: Decimal, step: Decimal) -> str:
    return str(value.quantize(step, rounding=ROUND_HALF_UP))


def _pricing(charge: LineCharge) -> list[dict[str, Any]]:
    return [
        {
            "start": part.start.isoformat(),
            "end": part.end.isoformat(),
            "tier": part.tier,
            "up_to": None if part.up_to is None else _shown(part.up_to, QUANTITY),
            "units": _shown(part.units, QUANTITY),
            "price_minor": str(part.price_minor),
            "subtotal": _shown(part.subtotal, _SUBTOTAL),
        }
        for part in charge.parts
    ]


class _Rows:
    """A batch's invoices, their lines and ledger charges as rows: three bulk inserts, no ORM objects.

    Ids are reserved first, so lines and charges can name their invoice without RETURNING;
    the lines' rows are made then, before the lock (`_issue`). `write` stamps the issue time
    and writes the drafts numbered under it, and leaves out the others (billed meanwhile;
    their ids go unused).
    """

    def __init__(self, session: Session, drafts: list[DraftInvoice]) -> None:
        self.ids = dict(
            zip(
                (d.apartment_id for d in drafts),
                reserve_ids(session, Invoice.__table__, len(drafts)),
                strict=True,
            )
        )
        self.lines: dict[int, list[dict[str, Any]]] = {
            draft.apartment_id: [
                {
                    "invoice_id": self.ids[draft.apartment_id],
                    "service_id": line.service_id,
                    "tariff_id": line.tariff_id,
                    "basis": line.basis.value,
                    "quantity": line.quantity,
                    "quantity_source": line.quantity_source.value,
                    "explanation": line.explanation,
                    "amount_minor": line.amount_minor,
                    "deduction_minor": line.deduction_minor,
                    "deduction_reason": line.deduction_reason,
                }
                for line in draft.lines
            ]
            for draft in drafts
        }

    def write(
        self, session: Session, drafts: list[DraftInvoice], *, timezone: str, min_days_to_pay: int
    ) -> None:
        """Writes the numbered drafts (those given to the constructor, or some of them).

        Called under the numbering lock: the issue time is stamped here, so it follows the
        numbers, and each invoice is due `min_days_to_pay` after its local issue date at the
        earliest. An account already in credit (paid beyond its earlier invoices) is settled
        at once, so its new invoice comes out paid or partially paid; the others stay issued.
        """
        if not drafts:
            return
        in_credit = _in_credit(session, [d.apartment_id for d in drafts])
        issued_at = clock.now()
        issued_on = issued_at.astimezone(ZoneInfo(timezone)).date()
        invoices, lines, entries = [], [], []
        for draft in drafts:
            invoice_id = self.ids[draft.apartment_id]
            invoices.append(
                {
                    "id": invoice_id,
                    "apartment_id": draft.apartment_id,
                    "company_id": draft.company_id,
                    "period": draft.period,
                    "year": draft.period.year,
                    "sequence": draft.sequence,
                    "number": draft.number,
                    "status": InvoiceStatus.issued.value,
                    "issued_at": issued_at,
                    "due_date": max(draft.due_date, issued_on + timedelta(days=min_days_to_pay)),
                    "total_minor": draft.total_minor,
                    "currency": DEFAULT_CURRENCY,
                    "created_at": issued_at,
                    "updated_at": issued_at,
                }
            )
            lines.extend(line | {"created_at": issued_at} for line in self.lines[draft.apartment_id])
            # New invoices cannot have a charge yet, so the entries go in at once (no dedupe lookup).
            # A total below zero (a recalculation credited more than the month costs) is an
            # adjustment crediting the account.
            if draft.total_minor != 0:
                kind = LedgerKind.charge if draft.total_minor > 0 else LedgerKind.adjustment
                entries.append(
                    {
                        "apartment_id": draft.apartment_id,
                        "kind": kind.value,
                        "amount_minor": draft.total_minor,
                        "currency": DEFAULT_CURRENCY,
                        "invoice_id": invoice_id,
                        "reference": draft.number,
                        "dedupe_key": charge_key(invoice_id),
                        "occurred_at": issued_at,
                        "created_at": issued_at,
                    }
                )
        insert_rows(session, Invoice.__table__, invoices)
        insert_rows(session, InvoiceLine.__table__, lines)
        insert_rows(session, LedgerEntry.__table__, entries)
        for apartment_id in in_credit:
            settle_invoices(session, apartment_id)


def _in_credit(session: Session, apartment_ids: list[int]) -> list[int]:
    """The accounts among these whose balance is negative: money paid beyond what they owe."""
    return list(
        session.exec(
            select(LedgerEntry.apartment_id)
            .where(among(session, LedgerEntry.apartment_id, apartment_ids))
            .group_by(LedgerEntry.apartment_id)
            .having(func.sum(LedgerEntry.amount_minor) < 0)
            .order_by(LedgerEntry.apartment_id)
        )
    )
