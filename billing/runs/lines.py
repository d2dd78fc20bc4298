"""Drafting an invoice's lines from the facts of its batch: no session, no query.

A line per service with a tariff in force for the apartment's company: billed by meter
(the metered/average/norm choice of `sensors.usage.estimation`, and the recalculation of
earlier estimated months), shared by area (heat from the building's common meter) or flat
(area, residents, one a month); then priced (`billing.tariffs.pricing`) and reduced for poor
service (`billing.tariffs.quality`). The rules and worked cases: docs/billing-rules.md.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from billing.models import QuantitySource
from billing.rules import BillingRules
from billing.runs.facts import ApartmentRow, BatchFacts
from billing.runs.prepared import ChosenTariff, PreparedRun, RunService, Tariffs
from billing.tariffs.building_fees import BuildingFee
from billing.tariffs.pricing import Basis, LineCharge, price_line
from billing.tariffs.quality import cold_water_price, quality_deduction
from housing.clock import month_end
from sensors.usage.consumption import QUANTITY
from sensors.usage.estimation import averaged, estimate_month, recalculate, share_by_area

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
    due_date: date
    lines: tuple[DraftLine, ...]
    sequence: int | None = None  # numbered under the lock, just before it is written
    number: str | None = None

    @property
    def total_minor(self) -> int:
        return sum(line.net_minor for line in self.lines)


@dataclass(frozen=True, slots=True)
class _Drafting:
    """What drafting a batch's lines reads: the prepared run, the rules, the batch's facts."""

    prepared: PreparedRun
    rules: BillingRules
    facts: BatchFacts
    warn: Callable[[str], None]

    @property
    def tariffs(self) -> Tariffs:
        return self.prepared.tariffs

    @property
    def bounds(self) -> tuple[date, date, datetime, datetime]:
        return self.prepared.bounds


def draft_lines(
    prepared: PreparedRun,
    rules: BillingRules,
    facts: BatchFacts,
    apartment: ApartmentRow,
    warn: Callable[[str], None],
) -> list[DraftLine]:
    """The apartment's lines for the month; ValueError when a tariff does not cover the month."""
    return _lines(_Drafting(prepared, rules, facts, warn), apartment)


def _lines(run: _Drafting, apartment: ApartmentRow) -> list[DraftLine]:
    tariffs = run.tariffs
    company_id = apartment.company_id
    assert company_id is not None
    lines = []
    for service in tariffs.services:
        priced: tuple[ChosenTariff, QuantitySource, Decimal | Fraction, dict[str, Any]] | None = None
        settling: DraftLine | None = None  # the recalculation of earlier estimated months
        kind = service.meter_kind
        metered = kind is not None and tariffs.tariff(service.id, Basis.per_unit, company_id)
        meter_id = run.facts.meters.get((apartment.id, kind)) if metered else None
        common_id = run.facts.common.get((apartment.building_id, kind)) if metered else None
        if metered and meter_id is not None:
            priced = _metered(run, service, apartment, meter_id)
            if priced is None:
                run.warn(
                    f"apartment {apartment.id}: no consumption, average or norm tariff for {service.code}"
                )
                continue
            if priced[1] in (QuantitySource.metered, QuantitySource.metered_estimated):
                settling = _recalculation(run, service, apartment, meter_id)
        elif metered and common_id is not None:
            priced = _shared(run, service, apartment, common_id)
            if priced is None:
                continue
        else:
            for basis in FLAT:
                tariff = tariffs.tariff(service.id, basis, company_id, apartment.building_id)
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
        charge, pricing = _price(run, service.id, basis, company_id, quantity, apartment.building_id)
        decided = tariffs.decided(service.id, basis, company_id, apartment.building_id)
        if decided:  # the owners' decided fee prices (part of) the month
            explanation = {**explanation, "building_fee": [_decided(fee) for fee in decided]}
        amount_minor, deduction_minor, reason = _quality(
            run, service, apartment, basis, quantity, charge, explanation
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
    run: _Drafting,
    service: RunService,
    apartment: ApartmentRow,
    basis: Basis,
    quantity: Decimal | Fraction,
    charge: LineCharge,
    explanation: dict[str, Any],
) -> tuple[int, int, str]:
    """The line's amount, its deduction for poor service and the reason (the building's incidents).

    Hours of hot water below 40 C are billed as cold water (`billing.tariffs.quality.cold_water_price`);
    the deduction for lukewarm hours then comes off the hot part.
    """
    incidents = run.facts.incidents.get(apartment.building_id)
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
    run: _Drafting, basis: Basis, apartment: ApartmentRow, quantity: Decimal | Fraction
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


def _decided(fee: BuildingFee) -> dict[str, Any]:
    """A decided fee as the line's explanation names it: the decision, its price and its days."""
    return {
        "decision_id": fee.decision_id,
        "price_minor": fee.fee_minor,
        "valid_from": fee.valid_from.isoformat(),
        "valid_until": None if fee.valid_until is None else fee.valid_until.isoformat(),
    }


def _price(
    run: _Drafting,
    service_id: int,
    basis: Basis,
    company_id: int,
    quantity: Decimal | Fraction,
    building_id: int | None = None,
) -> tuple[LineCharge, list[dict[str, Any]]]:
    """The line's charge and its parts for the explanation.

    A flat line's quantity (an area, a number of residents) repeats across a city, so it is
    priced once a run (a worker's, for all companies with the same price history);
    metered quantities seldom repeat, and keeping them would only grow.
    """
    history, versions = run.tariffs.history(service_id, basis, company_id, building_id)
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
    run: _Drafting, service: RunService, apartment: ApartmentRow, meter_id: int
) -> tuple[ChosenTariff, QuantitySource, Decimal, dict[str, Any]] | None:
    """The month by `sensors.usage.estimation.estimate_month`: metered (its ends estimated or not),
    else the meter's average month (3 months in a row at most), else the per-person norm."""
    assert apartment.company_id is not None
    result = run.facts.usage[meter_id]
    per_unit = run.tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    row = run.facts.estimated.get((apartment.id, service.id), [])
    average = run.facts.averages.get(meter_id)
    estimate = estimate_month(result, averaged_before=averaged(row), average=average)
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
    run: _Drafting, service: RunService, apartment: ApartmentRow, meter_id: int
) -> DraftLine | None:
    """The line settling the months just before, billed without a reading (`sensors.usage.estimation`)."""
    row = run.facts.estimated.get((apartment.id, service.id))
    if not row:
        return None
    assert apartment.company_id is not None
    per_unit = run.tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    _, versions = run.tariffs.history(service.id, Basis.per_unit, apartment.company_id)

    def price(quantity: Decimal, month: date) -> int:
        return price_line(quantity, versions, month, month_end(month)).amount_minor

    settled = recalculate(row, run.facts.actuals[meter_id], price)
    if isinstance(settled, str):
        run.warn(f"apartment {apartment.id}: {service.code} months billed by estimate not settled: {settled}")
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
    run: _Drafting, service: RunService, apartment: ApartmentRow, meter_id: int
) -> tuple[ChosenTariff, QuantitySource, Fraction, dict[str, Any]] | None:
    """The apartment's share by area of its building's common meter (heating without a meter of its own).

    The share is exact (a Fraction), so the amount is rounded once; the line's quantity
    column shows it to 3 decimals. Without the building's consumption there is no line.
    """
    assert apartment.company_id is not None
    result = run.facts.usage[meter_id]
    total_area = run.facts.areas.get(apartment.building_id, Decimal(0))
    shared = share_by_area(result, apartment.area_m2, total_area)
    if isinstance(shared, str):
        run.warn(
            f"apartment {apartment.id}: no {service.code} line, the building's meter {meter_id}: {shared}"
        )
        return None
    per_unit = run.tariffs.tariff(service.id, Basis.per_unit, apartment.company_id)
    assert per_unit is not None
    share, quantity = shared.share, shared.quantity
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


def _flat_quantity(basis: Basis, apartment: ApartmentRow, *, by_norm: bool) -> tuple[Decimal, QuantitySource]:
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
