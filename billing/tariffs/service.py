"""Tariff verbs. Each validates what the database cannot say clearly, flushes, never commits.

A tariff is stored only if pricing can use it: tiers rise, only the last is open-ended
(a per-unit tariff's last one must be, so every quantity has a price), prices are not
negative, a flat basis (per_m2, per_person, fixed) has one tier, and seasonal norms fit.
Tariffs of one service, company (or city-wide) and basis never overlap in time.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from billing.models import (
    DEFAULT_CURRENCY,
    Basis,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    SeasonalNorm,
    Service,
    Tariff,
    TariffTier,
)
from billing.tariffs.building_fees import BuildingFee, FeeDecision, ManagementPeriod, building_fees, overlaid
from billing.tariffs.pricing import SeasonalNorm as Norm
from billing.tariffs.pricing import TariffVersion, Tier, validate_tariff
from housing.db import among
from housing.errors import Conflict, Invalid
from housing.i18n import plain_money
from housing.incidents.models import Utility
from housing.meetings.models import BuildingDecision
from housing.meetings.rules import DecisionKind
from housing.registry.models import BuildingManagement, ManagementCompany
from sensors.models import MeterKind

# Services


def create_service(
    session: Session,
    *,
    code: str,
    name: str,
    unit: str,
    meter_kind: MeterKind | None = None,
    utility: Utility | None = None,
) -> Service:
    if session.exec(select(Service.id).where(Service.code == code)).first() is not None:
        raise Conflict(f"service code {code!r} is already taken", field="code")
    row = Service(code=code, name=name, unit=unit, meter_kind=meter_kind, utility=utility)
    session.add(row)
    session.flush()
    return row


# Tariffs


def check_tariff(
    basis: Basis,
    valid_from: date,
    valid_until: date | None,
    tiers: Sequence[Tier],
    norms: Sequence[Norm] = (),
) -> None:
    """Raises Invalid naming the first field that pricing could not use."""
    if valid_until is not None and valid_until <= valid_from:
        raise Invalid(f"valid_until {valid_until} must be after valid_from {valid_from}", field="valid_until")
    if not tiers:
        raise Invalid("a tariff needs at least one tier with a price", field="tiers")
    for i, tier in enumerate(tiers):
        if tier.price_minor < 0:
            raise Invalid(
                f"tier {i + 1}: the price cannot be negative ({plain_money(tier.price_minor, DEFAULT_CURRENCY)} per unit)",
                field=f"tiers.{i}.price",
            )
    if basis is not Basis.per_unit:
        if len(tiers) > 1:
            raise Invalid(
                f"a {basis} tariff has exactly one tier (got {len(tiers)}); tiers are for per_unit tariffs",
                field="tiers",
            )
        if tiers[0].up_to is not None:
            raise Invalid(f"a {basis} tariff has no bound: leave up_to empty", field="tiers.0.up_to")
    _check_bounds(tiers)
    _check_norms(basis, tiers, norms)
    # Pricing's own rules are the last word: what it would refuse is never stored.
    problems = validate_tariff(TariffVersion(basis, tuple(tiers), valid_from, valid_until, tuple(norms)))
    if problems:
        raise Invalid("; ".join(problems), field="tiers")


def _check_bounds(tiers: Sequence[Tier]) -> None:
    last = len(tiers) - 1
    previous: Decimal | None = None
    for i, tier in enumerate(tiers):
        field = f"tiers.{i}.up_to"
        if tier.up_to is None:
            if i < last:
                raise Invalid(f"tier {i + 1} is open-ended but is not the last tier", field=field)
            continue
        if tier.up_to <= 0:
            raise Invalid(f"tier {i + 1}: the bound {tier.up_to} must be positive", field=field)
        if previous is not None and tier.up_to <= previous:
            raise Invalid(
                f"tier {i + 1}: the bound {tier.up_to} is not above tier {i}'s bound {previous}"
                " (tiers are listed from the lowest bound up)",
                field=field,
            )
        previous = tier.up_to
    if tiers[last].up_to is not None:
        raise Invalid(
            f"the last tier must be open-ended (no up_to) so that every quantity has a price;"
            f" add a tier above {tiers[last].up_to}",
            field=f"tiers.{last}.up_to",
        )


def _check_norms(basis: Basis, tiers: Sequence[Tier], norms: Sequence[Norm]) -> None:
    if not norms:
        return
    if basis is not Basis.per_unit:
        raise Invalid(f"seasonal norms apply to per_unit tariffs only, not {basis}", field="seasonal_norms")
    if len(tiers) < 2:
        raise Invalid(
            "a seasonal norm moves the first tier's bound, so the tariff needs at least two tiers",
            field="seasonal_norms",
        )
    seen: set[int] = set()
    for i, norm in enumerate(norms):
        bad = sorted(m for m in norm.months if not 1 <= m <= 12)
        if bad or not norm.months:
            raise Invalid(
                f"seasonal norm {i + 1}: months {bad or '[]'} are not calendar months 1-12",
                field=f"seasonal_norms.{i}.months",
            )
        twice = sorted(norm.months & seen)
        if twice:
            raise Invalid(
                f"seasonal norm {i + 1}: months {twice} are already in another norm",
                field=f"seasonal_norms.{i}.months",
            )
        seen |= norm.months
        upper = tiers[1].up_to
        if norm.up_to <= 0 or (upper is not None and norm.up_to >= upper):
            below = "" if upper is None else f" and below tier 2's bound {upper}"
            raise Invalid(
                f"seasonal norm {i + 1}: {norm.up_to} must be positive{below}",
                field=f"seasonal_norms.{i}.up_to",
            )


def _overlapping(valid_from: date, valid_until: date | None):
    """Half-open periods [from, until) overlap when each starts before the other ends."""
    ends_after_start = or_(Tariff.valid_until.is_(None), Tariff.valid_until > valid_from)
    if valid_until is None:
        return ends_after_start
    return and_(Tariff.valid_from < valid_until, ends_after_start)


def _same_scope(company_id: int | None):
    return Tariff.company_id.is_(None) if company_id is None else Tariff.company_id == company_id


def _describe(tariff: Tariff) -> str:
    scope = "city-wide" if tariff.company_id is None else f"company {tariff.company_id}'s"
    until = tariff.valid_until.isoformat() if tariff.valid_until else "with no end"
    return f"tariff {tariff.id} ({scope} {tariff.basis}, from {tariff.valid_from.isoformat()} until {until})"


def create_tariff(
    session: Session,
    *,
    service_id: int,
    basis: Basis,
    valid_from: date,
    tiers: Sequence[Tier],
    seasonal_norms: Sequence[Norm] = (),
    company_id: int | None = None,
    valid_until: date | None = None,
    note: str = "",
) -> Tariff:
    """A new tariff version with its tiers (in order, lowest bound first) and seasonal norms."""
    service = session.get(Service, service_id)
    if service is None:
        raise Invalid(f"service {service_id} does not exist", field="service_id")
    if company_id is not None and session.get(ManagementCompany, company_id) is None:
        raise Invalid(f"company {company_id} does not exist", field="company_id")
    basis = Basis(basis)
    check_tariff(basis, valid_from, valid_until, tiers, seasonal_norms)
    clash = session.exec(
        select(Tariff)
        .where(
            Tariff.service_id == service_id,
            _same_scope(company_id),
            Tariff.basis == basis,
            _overlapping(valid_from, valid_until),
        )
        .order_by(Tariff.valid_from)
    ).first()
    if clash is not None:
        raise Conflict(
            f"{_describe(clash)} of {service.code} overlaps this one; end it first or start later",
            field="valid_from",
            conflicting_tariff_id=clash.id,
        )
    tariff = Tariff(
        service_id=service_id,
        company_id=company_id,
        basis=basis,
        valid_from=valid_from,
        valid_until=valid_until,
        note=note,
    )
    session.add(tariff)
    session.flush()
    session.add_all(
        TariffTier(tariff_id=tariff.id, position=n, up_to=tier.up_to, price_minor=tier.price_minor)
        for n, tier in enumerate(tiers, 1)
    )
    session.add_all(
        SeasonalNorm(tariff_id=tariff.id, months=format_months(norm.months), up_to=norm.up_to)
        for norm in seasonal_norms
    )
    session.flush()
    return tariff


def end_tariff(session: Session, tariff: Tariff, valid_until: date) -> Tariff:
    """Ends a tariff on a date (its first day out of force); never extends one, never rewrites a bill."""
    if valid_until <= tariff.valid_from:
        raise Invalid(
            f"valid_until {valid_until} must be after the tariff's valid_from {tariff.valid_from}",
            field="valid_until",
        )
    if tariff.valid_until is not None and valid_until > tariff.valid_until:
        raise Conflict(
            f"the tariff already ends on {tariff.valid_until}; a tariff is never extended, add a new one",
            field="valid_until",
        )
    billed = session.exec(
        select(Invoice.period)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            InvoiceLine.tariff_id == tariff.id,
            Invoice.status != InvoiceStatus.void,
            Invoice.period >= valid_until.replace(day=1),
        )
        .order_by(Invoice.period.desc())
    ).first()
    if billed is not None:
        raise Conflict(
            f"invoices for {billed:%Y-%m} were priced with this tariff; end it after that month",
            field="valid_until",
        )
    tariff.valid_until = valid_until
    session.add(tariff)
    session.flush()
    return tariff


# Reading tariffs back, and handing them to pricing


def format_months(months: Iterable[int]) -> str:
    return ",".join(str(m) for m in sorted(set(months)))


def parse_months(months: str) -> list[int]:
    return sorted(int(m) for m in months.split(",") if m.strip())


def tariff_parts(
    session: Session, tariff_ids: Iterable[int]
) -> tuple[dict[int, list[TariffTier]], dict[int, list[SeasonalNorm]]]:
    """The tiers (in position order) and seasonal norms of each tariff, in two queries."""
    ids = list(tariff_ids)
    tiers: dict[int, list[TariffTier]] = defaultdict(list)
    norms: dict[int, list[SeasonalNorm]] = defaultdict(list)
    if ids:
        for tier in session.exec(
            select(TariffTier).where(TariffTier.tariff_id.in_(ids)).order_by(TariffTier.position)
        ):
            tiers[tier.tariff_id].append(tier)
        for norm in session.exec(
            select(SeasonalNorm).where(SeasonalNorm.tariff_id.in_(ids)).order_by(SeasonalNorm.id)
        ):
            norms[norm.tariff_id].append(norm)
    return tiers, norms


def tariff_versions(
    session: Session, *, service_id: int, basis: Basis, company_id: int | None = None
) -> list[TariffVersion]:
    """A service's price history for one basis as pricing takes it, for a company's buildings.

    The company's own tariffs apply where they are in force; the city-wide ones fill the
    days around them (cut to those days). Without a company: the city-wide history alone.
    """
    rows = list(
        session.exec(
            select(Tariff)
            .where(
                Tariff.service_id == service_id,
                Tariff.basis == basis,
                or_(Tariff.company_id.is_(None), Tariff.company_id == company_id)
                if company_id is not None
                else Tariff.company_id.is_(None),
            )
            .order_by(Tariff.valid_from)
        )
    )
    tiers, norms = tariff_parts(session, [t.id for t in rows])
    return merged_versions(rows, tiers, norms)


def all_tariffs(
    session: Session,
) -> tuple[list[Tariff], dict[int, list[TariffTier]], dict[int, list[SeasonalNorm]]]:
    """Every tariff (by valid_from) with its tiers and norms, in three queries, for a billing run."""
    rows = list(session.exec(select(Tariff).order_by(Tariff.valid_from, Tariff.id)))
    tiers, norms = tariff_parts(session, [t.id for t in rows])
    return rows, tiers, norms


def merged_versions(
    rows: Iterable[Tariff], tiers: dict[int, list[TariffTier]], norms: dict[int, list[SeasonalNorm]]
) -> list[TariffVersion]:
    """One service's and basis' tariffs of one company and the city (by valid_from) as one history."""
    rows = list(rows)
    versions = {t.id: _version(t, tiers[t.id], norms[t.id]) for t in rows}
    own = [versions[t.id] for t in rows if t.company_id is not None]
    return overlaid(own, (versions[t.id] for t in rows if t.company_id is None))


def _version(tariff: Tariff, tiers: list[TariffTier], norms: list[SeasonalNorm]) -> TariffVersion:
    return TariffVersion(
        basis=Basis(tariff.basis),
        tiers=tuple(Tier(up_to=t.up_to, price_minor=Decimal(t.price_minor)) for t in tiers),
        valid_from=tariff.valid_from,
        valid_until=tariff.valid_until,
        seasonal_norms=tuple(
            Norm(months=frozenset(parse_months(n.months)), up_to=Decimal(n.up_to)) for n in norms
        ),
    )


# A building's decided management fee (billing.tariffs.building_fees)


def building_fee_windows(
    session: Session, building_ids: Sequence[int] | None = None
) -> dict[int, list[BuildingFee]]:
    """building -> its decided management fees, each with the company and days it applies to.

    Read from the owners' management_fee decisions and the buildings' management history (two
    queries); every building with a decision when `building_ids` is None (a billing run).
    """
    query = select(BuildingDecision).where(BuildingDecision.kind == DecisionKind.management_fee)
    if building_ids is not None:
        query = query.where(among(session, BuildingDecision.building_id, building_ids))
    decisions: dict[int, list[FeeDecision]] = defaultdict(list)
    for row in session.exec(query):
        if row.id is None or row.fee_minor is None:
            continue
        decisions[row.building_id].append(
            FeeDecision(row.id, row.building_id, row.effective_from, row.fee_minor, row.decided_at)
        )
    if not decisions:
        return {}
    periods: dict[int, list[ManagementPeriod]] = defaultdict(list)
    for period in session.exec(
        select(BuildingManagement).where(among(session, BuildingManagement.building_id, sorted(decisions)))
    ):
        periods[period.building_id].append(
            ManagementPeriod(period.company_id, period.valid_from, period.valid_until)
        )
    return {
        building_id: building_fees(found, periods[building_id]) for building_id, found in decisions.items()
    }
