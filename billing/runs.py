"""The monthly billing run: one invoice per personal account (apartment) and month.

For each apartment without an invoice for the period, a line per service with a tariff in
force for the apartment's company (its own tariff wins over the city-wide one):

- a service billed by meter (`Service.meter_kind`, a per_unit tariff): the consumption of
  the apartment's meter of that kind over the month ("metered"); without enough readings
  the meter's average month ("average", needs 3 metered months of the last 12); without
  that the service's per_person tariff times registered residents ("norm"). Without an
  apartment meter the per_person tariff ("norm": cold water at 49,019.60 UZS a person);
- per_m2 (management fee): the apartment's area; per_person (waste): registered residents;
  fixed: one a month. Flat lines with a zero quantity are left out.
- deductions: the building's service incidents overlapping the month, through
  `billing.pricing.quality_deduction` (hot water and heating have rules).

Invoices are numbered "{year}-{sequence:06d}" per company and year (max + 1), issued at
once, due on the 15th of the next month, with one ledger charge of their total
("charge:{invoice_id}"). The run holds a transaction-scoped PostgreSQL advisory lock, so
two runs never number the same sequence; a second run finds every account billed
(unique apartment and period) and issues nothing. A dry run computes the same invoices
and writes nothing.

How it scales: apartments are read in batches of `BATCH` by id, and each batch is worked
out with a handful of queries whatever its size: the apartments with their company, their
meters, the consumption of all those meters (`sensors.bulk_usage.period_consumption`: the
readings next to the month's ends, the backwards check done in SQL, the pure rules of
`sensors.consumption` unchanged), the buildings' incidents. Tariffs and meter replacements
are read once a run, and a quantity of a service is priced once a run (flat lines repeat).
The invoices, lines and charges are written with three bulk inserts (COPY on PostgreSQL)
under ids reserved beforehand, with no ORM objects. Only what is rare goes one meter at a
time: a meter without a month's consumption (its average), or one with staff corrections.

Simplifications (known, not done here): "average" is used whenever the meter has one, not
only for 3 periods in a row; the building's heat meter is not shared among apartments
(heating is billed only from an apartment's own heat meter or a per_person tariff); hours
of hot water below 40 C are not repriced as cold water (the deduction says how many).
"""

import calendar
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, text
from sqlmodel import Session, col, select

from billing.models import (
    DEFAULT_CURRENCY,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    QuantitySource,
    Service,
    Tariff,
)
from billing.penalties import due_date
from billing.pricing import Basis, Incident, LineCharge, TariffVersion, price_line, quality_deduction
from billing.service import all_tariffs, merged_versions
from housing.db import advisory_lock, among, insert_rows, reserve_ids, utcnow
from housing.errors import Invalid
from housing.incidents.models import ServiceIncident
from housing.registry.models import Apartment, BuildingManagement
from sensors.bulk_usage import period_consumption, replacements
from sensors.consumption import DEFAULT_TIMEZONE, ConsumptionResult
from sensors.models import Meter
from sensors.usage import meter_average

BATCH = 2000
MAX_WARNINGS = 100
LOCK_KEY = zlib.crc32(b"housing-billing-run")
FLAT = (Basis.per_m2, Basis.per_person, Basis.fixed)


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
    sequence: int
    number: str
    due_date: date
    lines: tuple[DraftLine, ...]

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


class _Tariffs:
    """The services and the tariffs overlapping the period, and each company's price history.

    Every tariff is read once at the start (a few queries); a company's history of a service
    is merged from those rows when first asked for.
    """

    def __init__(self, session: Session, start: date, end: date) -> None:
        self.start = start
        self.services = list(session.exec(select(Service).order_by(Service.id)))
        self.all, self.tiers, self.norms = all_tariffs(session)
        self.rows: dict[tuple[int, Basis], list[Tariff]] = defaultdict(list)
        for row in self.all:
            if row.valid_from < end and (row.valid_until is None or row.valid_until > start):
                self.rows[(row.service_id, Basis(row.basis))].append(row)
        self._versions: dict[tuple[int, Basis, int], list[TariffVersion]] = {}
        self._chosen: dict[tuple[int, Basis, int], Tariff | None] = {}

    def tariff(self, service_id: int, basis: Basis, company_id: int) -> Tariff | None:
        """The tariff row in force for the company: its own first, on the period's first day first."""
        key = (service_id, basis, company_id)
        if key not in self._chosen:
            rows = [r for r in self.rows[(service_id, basis)] if r.company_id in (None, company_id)]
            self._chosen[key] = min(
                rows,
                key=lambda r: (r.company_id is None, r.valid_from > self.start, -r.valid_from.toordinal()),
                default=None,
            )
        return self._chosen[key]

    def versions(self, service_id: int, basis: Basis, company_id: int) -> list[TariffVersion]:
        key = (service_id, basis, company_id)
        if key not in self._versions:
            rows = (
                r
                for r in self.all
                if r.service_id == service_id and r.basis == basis and r.company_id in (None, company_id)
            )
            self._versions[key] = merged_versions(rows, self.tiers, self.norms)
        return self._versions[key]


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
) -> RunSummary:
    """Issues the period's missing invoices (flushes, never commits); see the module's docstring."""
    if period.day != 1:
        raise Invalid(f"a billing period is a month's first day, not {period.isoformat()}", field="period")
    _, end, _, _ = month_bounds(period, timezone)
    if end > today:
        raise Invalid(
            f"{period:%Y-%m} has not ended on {today.isoformat()}; bill it from {end}", field="period"
        )
    summary = RunSummary(period=period, dry_run=dry_run)
    if dry_run:
        _run(session, summary, period, timezone, apartment_ids)
        return summary
    with advisory_lock(session, LOCK_KEY) as granted:  # held until the transaction ends
        if not granted:
            summary.locked_out = True
            return summary
        _run(session, summary, period, timezone, apartment_ids)
    return summary


def unbilled_apartment_ids(session: Session, period: date) -> list[int]:
    """Ids of the apartments without an invoice for the period, in id order."""
    billed = exists().where(Invoice.apartment_id == Apartment.id, Invoice.period == period)
    return list(session.exec(select(Apartment.id).where(~billed).order_by(Apartment.id)))


@dataclass
class _Context:
    """What every batch of a run shares."""

    session: Session
    summary: RunSummary
    tariffs: "_Tariffs"
    period: date
    timezone: str
    replaced: dict[int, int]  # meter -> the meter it replaced (`sensors.bulk_usage.replacements`)
    sequences: dict[int, int] = field(default_factory=dict)  # company -> last invoice number used
    prices: dict[tuple[int, Basis, int, Decimal], tuple[LineCharge, list[dict[str, Any]]]] = field(
        default_factory=dict
    )

    @property
    def bounds(self) -> tuple[date, date, datetime, datetime]:
        return month_bounds(self.period, self.timezone)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a batch's lines are worked out from, read with a few queries for the whole batch."""

    meters: dict[tuple[int, str], int]  # (apartment, kind) -> meter
    usage: dict[int, ConsumptionResult]  # meter -> its consumption in the month
    incidents: dict[int, list[Incident]]  # building -> its incidents overlapping the month


def _run(
    session: Session, summary: RunSummary, period: date, timezone: str, apartment_ids: Sequence[int] | None
) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Compiling each batch's queries costs more than it saves; ends with the transaction.
        session.execute(text("SET LOCAL jit = off"))
    start, end, _, _ = month_bounds(period, timezone)
    run = _Context(session, summary, _Tariffs(session, start, end), period, timezone, replacements(session))
    after = 0
    while True:
        batch = _apartments(session, period, timezone, after, apartment_ids)
        if not batch:
            return
        after = batch[-1].id
        drafts = _draft_batch(run, batch)
        summary.issued += len(drafts)
        summary.total_minor += sum(d.total_minor for d in drafts)
        if summary.dry_run:
            summary.invoices.extend(drafts)
        else:
            _write(session, drafts)


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
    facts = _Facts(
        meters=meters,
        usage=period_consumption(
            session, meters.values(), start_at, end_at, timezone=run.timezone, replaced=run.replaced
        ),
        incidents=_incidents(session, {a.building_id for a in batch}, start_at, end_at),
    )
    due = due_date(period)
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
        sequence = _next_sequence(session, run.sequences, apartment.company_id, period.year)
        drafts.append(
            DraftInvoice(
                apartment_id=apartment.id,
                company_id=apartment.company_id,
                period=period,
                sequence=sequence,
                number=f"{period.year}-{sequence:06d}",
                due_date=due,
                lines=tuple(lines),
            )
        )
    return drafts


def _next_sequence(session: Session, sequences: dict[int, int], company_id: int, year: int) -> int:
    if company_id not in sequences:
        sequences[company_id] = int(
            session.exec(
                select(func.coalesce(func.max(Invoice.sequence), 0)).where(
                    Invoice.company_id == company_id, Invoice.year == year
                )
            ).one()
        )
    sequences[company_id] += 1
    return sequences[company_id]


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


def _incidents(
    session: Session, building_ids: set[int], start_at: datetime, end_at: datetime
) -> dict[int, list[Incident]]:
    rows = session.exec(
        select(
            ServiceIncident.building_id,
            ServiceIncident.started_at,
            ServiceIncident.ended_at,
            ServiceIncident.deviation,
            ServiceIncident.utility,
        ).where(
            col(ServiceIncident.building_id).in_(building_ids),
            ServiceIncident.started_at < end_at,
            or_(col(ServiceIncident.ended_at).is_(None), ServiceIncident.ended_at > start_at),
        )
    ).all()
    found: dict[int, list[Incident]] = defaultdict(list)
    for building_id, started_at, ended_at, deviation, utility in rows:
        found[building_id].append(Incident(started_at, ended_at, deviation, str(utility)))
    return found


def _lines(run: _Context, facts: _Facts, apartment: _Apartment) -> list[DraftLine]:
    tariffs = run.tariffs
    _, _, start_at, end_at = run.bounds
    company_id = apartment.company_id
    assert company_id is not None
    lines = []
    for service in tariffs.services:
        assert service.id is not None
        priced: tuple[Tariff, QuantitySource, Decimal, dict[str, Any]] | None = None
        metered = service.meter_kind is not None and tariffs.tariff(service.id, Basis.per_unit, company_id)
        meter_id = facts.meters.get((apartment.id, str(service.meter_kind))) if metered else None
        if metered and meter_id is not None:
            priced = _metered(run, service, apartment, meter_id, facts.usage[meter_id])
            if priced is None:
                run.summary.warn(
                    f"apartment {apartment.id}: no consumption, average or norm tariff for {service.code}"
                )
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
        basis = Basis(tariff.basis)
        if basis is not Basis.per_unit and quantity == 0:
            continue
        charge, pricing = _price(run, service.id, basis, company_id, quantity)
        deduction_minor, reason = 0, ""
        incidents = facts.incidents.get(apartment.building_id)
        if service.utility is not None and incidents:  # without incidents nothing comes off
            deduction = quality_deduction(charge.amount_minor, incidents, service.utility, (start_at, end_at))
            deduction_minor = deduction.amount_minor
            reason = deduction.explanation[:500] if deduction_minor else ""
            if deduction.cold_water_hours:
                explanation["cold_water_hours"] = str(deduction.cold_water_hours)
        lines.append(
            DraftLine(
                service_id=service.id,
                service_code=service.code,
                tariff_id=tariff.id,
                basis=basis,
                quantity=quantity,
                quantity_source=source,
                amount_minor=charge.amount_minor,
                deduction_minor=deduction_minor,
                deduction_reason=reason,
                explanation={"source": str(source), **explanation, "pricing": pricing},
            )
        )
    return lines


def _price(
    run: _Context, service_id: int, basis: Basis, company_id: int, quantity: Decimal
) -> tuple[LineCharge, list[dict[str, Any]]]:
    """The line's charge and its parts for the explanation.

    A flat line's quantity (an area, a number of residents) repeats across a city, so it is
    priced once a run; metered quantities seldom repeat, and keeping them would only grow.
    """
    key = (service_id, basis, company_id, quantity)
    if key in run.prices:
        return run.prices[key]
    start, end, _, _ = run.bounds
    charge = price_line(quantity, run.tariffs.versions(service_id, basis, company_id), start, end)
    priced = (charge, _pricing(charge))
    if basis is not Basis.per_unit:
        run.prices[key] = priced
    return priced


def _metered(
    run: _Context, service: Service, apartment: _Apartment, meter_id: int, result: ConsumptionResult
) -> tuple[Tariff, QuantitySource, Decimal, dict[str, Any]] | None:
    """Metered consumption, else the meter's average month, else the per-person norm."""
    assert service.id is not None and apartment.company_id is not None
    per_unit = run.tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    if result.how == "metered" and result.quantity is not None:
        explanation = {
            "meter_id": meter_id,
            "start": _boundary(result.start),
            "end": _boundary(result.end),
            "extrapolated": result.extrapolated,
        }
        return per_unit, QuantitySource.metered, result.quantity, explanation
    average = meter_average(run.session, meter_id, run.period, timezone=run.timezone)
    if average is not None:
        explanation = {"meter_id": meter_id, "label": "average", "why": result.reason}
        return per_unit, QuantitySource.average, average, explanation
    norm = run.tariffs.tariff(service.id, Basis.per_person, apartment.company_id)
    if norm is None:
        return None
    explanation = {"meter_id": meter_id, "label": "norm", "why": result.reason or "no average"}
    return norm, QuantitySource.norm, Decimal(apartment.residents), explanation


def _flat_quantity(basis: Basis, apartment: _Apartment, *, by_norm: bool) -> tuple[Decimal, QuantitySource]:
    if basis is Basis.per_m2:
        return Decimal(apartment.area_m2), QuantitySource.area
    if basis is Basis.per_person:
        return Decimal(apartment.residents), QuantitySource.norm if by_norm else QuantitySource.residents
    return Decimal(1), QuantitySource.fixed


def _boundary(boundary: Any) -> dict[str, str] | None:
    if boundary is None:
        return None
    return {"at": boundary.at.isoformat(), "value": str(boundary.value), "how": boundary.how}


def _pricing(charge: LineCharge) -> list[dict[str, Any]]:
    return [
        {
            "start": part.start.isoformat(),
            "end": part.end.isoformat(),
            "tier": part.tier,
            "up_to": None if part.up_to is None else str(part.up_to),
            "units": str(part.units),
            "price_minor": str(part.price_minor),
            "subtotal": str(part.subtotal),
        }
        for part in charge.parts
    ]


def _write(session: Session, drafts: list[DraftInvoice]) -> None:
    """The batch's invoices, their lines and ledger charges: three bulk inserts, no ORM objects.

    Ids are reserved first, so lines and charges can name their invoice without RETURNING.
    """
    if not drafts:
        return
    issued_at = utcnow()
    ids = reserve_ids(session, Invoice.__table__, len(drafts))
    invoices, lines, entries = [], [], []
    for invoice_id, draft in zip(ids, drafts, strict=True):
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
                "due_date": draft.due_date,
                "total_minor": draft.total_minor,
                "currency": DEFAULT_CURRENCY,
                "created_at": issued_at,
                "updated_at": issued_at,
            }
        )
        lines.extend(
            {
                "invoice_id": invoice_id,
                "service_id": line.service_id,
                "tariff_id": line.tariff_id,
                "basis": line.basis.value,
                "quantity": line.quantity,
                "quantity_source": line.quantity_source.value,
                "explanation": line.explanation,
                "amount_minor": line.amount_minor,
                "deduction_minor": line.deduction_minor,
                "deduction_reason": line.deduction_reason,
                "created_at": issued_at,
            }
            for line in draft.lines
        )
        # New invoices cannot have a charge yet, so the entries go in at once (no dedupe lookup).
        if draft.total_minor > 0:
            entries.append(
                {
                    "apartment_id": draft.apartment_id,
                    "kind": LedgerKind.charge.value,
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
