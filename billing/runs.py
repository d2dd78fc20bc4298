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
and writes nothing. Apartments are read in batches of `BATCH` by id.

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

from sqlalchemy import exists, func, or_
from sqlmodel import Session, col, select

from billing.models import (
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
from billing.service import tariff_versions
from housing.db import advisory_lock, utcnow
from housing.errors import Invalid
from housing.incidents.models import ServiceIncident
from housing.registry.models import Apartment, BuildingManagement
from sensors.consumption import DEFAULT_TIMEZONE
from sensors.models import Meter
from sensors.usage import meter_average, meter_consumption

BATCH = 500
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
    """The services and the tariffs overlapping the period, and each company's price history."""

    def __init__(self, session: Session, start: date, end: date) -> None:
        self.session = session
        self.start = start
        self.services = list(session.exec(select(Service).order_by(Service.id)))
        rows = session.exec(
            select(Tariff).where(
                Tariff.valid_from < end, or_(col(Tariff.valid_until).is_(None), Tariff.valid_until > start)
            )
        ).all()
        self.rows: dict[tuple[int, Basis], list[Tariff]] = defaultdict(list)
        for row in rows:
            self.rows[(row.service_id, Basis(row.basis))].append(row)
        self._versions: dict[tuple[int, Basis, int], list[TariffVersion]] = {}

    def tariff(self, service_id: int, basis: Basis, company_id: int) -> Tariff | None:
        """The tariff row in force for the company: its own first, on the period's first day first."""
        rows = [r for r in self.rows[(service_id, basis)] if r.company_id in (None, company_id)]
        if not rows:
            return None
        return min(
            rows, key=lambda r: (r.company_id is None, r.valid_from > self.start, -r.valid_from.toordinal())
        )

    def versions(self, service_id: int, basis: Basis, company_id: int) -> list[TariffVersion]:
        key = (service_id, basis, company_id)
        if key not in self._versions:
            self._versions[key] = tariff_versions(
                self.session, service_id=service_id, basis=basis, company_id=company_id
            )
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


def _run(
    session: Session, summary: RunSummary, period: date, timezone: str, apartment_ids: Sequence[int] | None
) -> None:
    tariffs = _Tariffs(session, *month_bounds(period, timezone)[:2])
    sequences: dict[int, int] = {}
    after = 0
    while True:
        batch = _apartments(session, period, timezone, after, apartment_ids)
        if not batch:
            return
        after = batch[-1].id
        drafts = _draft_batch(session, summary, tariffs, batch, period, timezone, sequences)
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


def _draft_batch(
    session: Session,
    summary: RunSummary,
    tariffs: _Tariffs,
    batch: list[_Apartment],
    period: date,
    timezone: str,
    sequences: dict[int, int],
) -> list[DraftInvoice]:
    start, end, start_at, end_at = month_bounds(period, timezone)
    meters = _meters(session, [a.id for a in batch], start, end)
    incidents = _incidents(session, {a.building_id for a in batch}, start_at, end_at)
    due = due_date(period)
    drafts = []
    for apartment in batch:
        if apartment.company_id is None:
            summary.without_manager += 1
            continue
        try:
            lines = _lines(session, summary, tariffs, apartment, meters, incidents, period, timezone)
        except ValueError as exc:  # a tariff that does not cover the month: hold this invoice back
            summary.warn(f"apartment {apartment.id}: not billed, {exc}")
            summary.failed += 1
            continue
        if not lines:
            summary.without_lines += 1
            continue
        sequence = _next_sequence(session, sequences, apartment.company_id, period.year)
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
            col(Meter.apartment_id).in_(apartment_ids),
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


def _lines(
    session: Session,
    summary: RunSummary,
    tariffs: _Tariffs,
    apartment: _Apartment,
    meters: dict[tuple[int, str], int],
    incidents: dict[int, list[Incident]],
    period: date,
    timezone: str,
) -> list[DraftLine]:
    start, end, start_at, end_at = month_bounds(period, timezone)
    company_id = apartment.company_id
    assert company_id is not None
    lines = []
    for service in tariffs.services:
        assert service.id is not None
        priced: tuple[Tariff, QuantitySource, Decimal, dict[str, Any]] | None = None
        metered = service.meter_kind is not None and tariffs.tariff(service.id, Basis.per_unit, company_id)
        meter_id = meters.get((apartment.id, str(service.meter_kind))) if metered else None
        if metered and meter_id is not None:
            priced = _metered(session, tariffs, service, apartment, meter_id, period, timezone)
            if priced is None:
                summary.warn(
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
        charge = price_line(quantity, tariffs.versions(service.id, basis, company_id), start, end)
        deduction_minor, reason = 0, ""
        if service.utility is not None:
            deduction = quality_deduction(
                charge.amount_minor,
                incidents.get(apartment.building_id, ()),
                service.utility,
                (start_at, end_at),
            )
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
                explanation={"source": str(source), **explanation, "pricing": _pricing(charge)},
            )
        )
    return lines


def _metered(
    session: Session,
    tariffs: _Tariffs,
    service: Service,
    apartment: _Apartment,
    meter_id: int,
    period: date,
    timezone: str,
) -> tuple[Tariff, QuantitySource, Decimal, dict[str, Any]] | None:
    """Metered consumption, else the meter's average month, else the per-person norm."""
    assert service.id is not None and apartment.company_id is not None
    _, _, start_at, end_at = month_bounds(period, timezone)
    per_unit = tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    result = meter_consumption(session, meter_id, start_at, end_at, timezone=timezone)
    if result.how == "metered" and result.quantity is not None:
        explanation = {
            "meter_id": meter_id,
            "start": _boundary(result.start),
            "end": _boundary(result.end),
            "extrapolated": result.extrapolated,
        }
        return per_unit, QuantitySource.metered, result.quantity, explanation
    average = meter_average(session, meter_id, period, timezone=timezone)
    if average is not None:
        explanation = {"meter_id": meter_id, "label": "average", "why": result.reason}
        return per_unit, QuantitySource.average, average, explanation
    norm = tariffs.tariff(service.id, Basis.per_person, apartment.company_id)
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
    """The batch's invoices, their lines and ledger charges, in three flushes; then let go of the rows."""
    if not drafts:
        return
    issued_at = utcnow()
    invoices = [
        Invoice(
            apartment_id=d.apartment_id,
            company_id=d.company_id,
            period=d.period,
            year=d.period.year,
            sequence=d.sequence,
            number=d.number,
            status=InvoiceStatus.issued,
            issued_at=issued_at,
            due_date=d.due_date,
            total_minor=d.total_minor,
        )
        for d in drafts
    ]
    session.add_all(invoices)
    session.flush()
    lines = [
        InvoiceLine(
            invoice_id=invoice.id,
            service_id=line.service_id,
            tariff_id=line.tariff_id,
            basis=line.basis,
            quantity=line.quantity,
            quantity_source=line.quantity_source,
            explanation=line.explanation,
            amount_minor=line.amount_minor,
            deduction_minor=line.deduction_minor,
            deduction_reason=line.deduction_reason,
        )
        for invoice, draft in zip(invoices, drafts, strict=True)
        for line in draft.lines
    ]
    session.add_all(lines)
    session.flush()
    # New invoices cannot have a charge yet, so the entries go in at once (no dedupe lookup).
    entries = [
        LedgerEntry(
            apartment_id=invoice.apartment_id,
            kind=LedgerKind.charge,
            amount_minor=invoice.total_minor,
            currency=invoice.currency,
            invoice_id=invoice.id,
            reference=invoice.number,
            dedupe_key=charge_key(invoice.id),
            occurred_at=issued_at,
        )
        for invoice in invoices
        if invoice.total_minor > 0
    ]
    session.add_all(entries)
    session.flush()
    for row in [*invoices, *lines, *entries]:
        session.expunge(row)
