"""A building's own management fee, decided by its owners' meeting: pure rules, no I/O.

An adopted management_fee question leaves a `BuildingDecision` (kind management_fee, a fee in
tiyin per m2 a month, effective_from). Billing reads it as the building's own per-m2 tariff of
the management service (`MANAGEMENT_SERVICE`), above the company's own tariff and the
city-wide one (docs/tariffs.md, "A building's decided fee"):

- it applies from its effective_from;
- a later fee decision of the building ends it on that decision's effective_from (two with the
  same effective_from: the one decided last wins, the other never applies);
- a change of management company ends it: the fee is tied to the company managing the
  building on its effective_from (or, when none does, to the next one to manage it) and ends
  the day another company starts managing the building. The new company bills its own tariff
  (or the city's) until the owners decide a fee again; a fee decided for the same day as the
  change (the same meeting, say) starts with the new company and is its fee.

A month's invoice is the company's that manages the building on the month's last day
(docs/billing-rules.md), so a fee applies to an invoice only when it is tied to that company.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from billing.tariffs.pricing import Basis, TariffVersion, Tier

MANAGEMENT_SERVICE = "management"
"""The code of the service whose per-m2 price a building's fee decision sets."""


@dataclass(frozen=True, slots=True)
class FeeDecision:
    """An adopted management_fee decision, as billing reads it."""

    id: int
    building_id: int
    effective_from: date
    fee_minor: int  # tiyin per m2 a month
    decided_at: datetime  # of two decisions for one day, the later decided wins (then the higher id)


@dataclass(frozen=True, slots=True)
class ManagementPeriod:
    """One period of the building's management history: [valid_from, valid_until)."""

    company_id: int
    valid_from: date
    valid_until: date | None


@dataclass(frozen=True, slots=True)
class BuildingFee:
    """A decided fee as it applies: to the building's invoices of `company_id` on [valid_from, valid_until)."""

    decision_id: int
    building_id: int
    company_id: int
    valid_from: date
    valid_until: date | None
    fee_minor: int

    def overlaps(self, start: date, end: date) -> bool:
        return self.valid_from < end and (self.valid_until is None or self.valid_until > start)

    def version(self) -> TariffVersion:
        return TariffVersion(
            basis=Basis.per_m2,
            tiers=(Tier(up_to=None, price_minor=Decimal(self.fee_minor)),),
            valid_from=self.valid_from,
            valid_until=self.valid_until,
        )


def building_fees(decisions: Iterable[FeeDecision], periods: Sequence[ManagementPeriod]) -> list[BuildingFee]:
    """One building's fee decisions as the windows in which each applies (see the module's rules).

    `periods` is the building's management history. A decision with no company to tie it to
    (nobody manages the building on or after its date) and one replaced on its own first day
    apply nowhere and are left out.
    """
    ordered = sorted(decisions, key=lambda d: (d.effective_from, d.decided_at, d.id))
    history = sorted(periods, key=lambda p: p.valid_from)
    fees: list[BuildingFee] = []
    for n, decision in enumerate(ordered):
        later = [d.effective_from for d in ordered[n + 1 :] if d.effective_from > decision.effective_from]
        if any(d.effective_from == decision.effective_from for d in ordered[n + 1 :]):
            continue  # replaced by a decision of the same day decided after it
        tied = _company_from(history, decision.effective_from)
        if tied is None:
            continue
        company_id, since = tied
        ends = [p.valid_from for p in history if p.valid_from > since and p.company_id != company_id]
        until = min([*later[:1], *ends[:1]], default=None)
        start = max(decision.effective_from, since)
        if until is not None and until <= start:
            continue
        fees.append(
            BuildingFee(
                decision_id=decision.id,
                building_id=decision.building_id,
                company_id=company_id,
                valid_from=start,
                valid_until=until,
                fee_minor=decision.fee_minor,
            )
        )
    return fees


def _company_from(history: Sequence[ManagementPeriod], day: date) -> tuple[int, date] | None:
    """The company managing on `day` (else the next one to manage), and the day its tie starts."""
    for period in history:
        if period.valid_from <= day and (period.valid_until is None or day < period.valid_until):
            return period.company_id, day
    for period in history:
        if period.valid_from > day:
            return period.company_id, period.valid_from
    return None


def overlaid(top: Sequence[TariffVersion], below: Iterable[TariffVersion]) -> list[TariffVersion]:
    """One price history: the `top` versions where they are in force, `below` on the other days.

    How a company's own tariff covers the city's, and a building's decided fee the company's.
    """
    result = list(top)
    for version in below:
        result.extend(outside(version, top))
    return sorted(result, key=lambda v: v.valid_from)


def outside(version: TariffVersion, covers: Sequence[TariffVersion]) -> list[TariffVersion]:
    """The pieces of `version` on days that none of `covers` is in force."""
    pieces: list[tuple[date, date | None]] = [(version.valid_from, version.valid_until)]
    for cover in covers:
        cut: list[tuple[date, date | None]] = []
        for start, end in pieces:
            if not _meets(start, end, cover.valid_from, cover.valid_until):
                cut.append((start, end))
                continue
            if start < cover.valid_from:
                cut.append((start, cover.valid_from))
            if cover.valid_until is not None and (end is None or cover.valid_until < end):
                cut.append((cover.valid_until, end))
        pieces = cut
    return [replace(version, valid_from=start, valid_until=end) for start, end in pieces]


def _meets(a_from: date, a_until: date | None, b_from: date, b_until: date | None) -> bool:
    return (a_until is None or b_from < a_until) and (b_until is None or a_from < b_until)
