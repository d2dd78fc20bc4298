"""What every batch of a period's billing run shares, read once: the services, the tariffs and
their price histories, the meter replacements, the month's bounds and the prices of flat
quantities (`PreparedRun`, which a worker of `billing.jobs.bill_period` keeps from batch to
batch). How the run uses them: docs/billing-rules.md.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from billing.models import Service
from billing.tariffs.building_fees import MANAGEMENT_SERVICE, BuildingFee, overlaid
from billing.tariffs.pricing import Basis, LineCharge, TariffVersion
from billing.tariffs.service import all_tariffs, building_fee_windows, merged_versions
from housing.clock import month_end
from housing.incidents.models import Utility
from sensors.usage.bulk import replacements
from sensors.usage.consumption import DEFAULT_TIMEZONE, DEFAULT_TOLERANCE


def month_bounds(period: date, timezone: str = DEFAULT_TIMEZONE) -> tuple[date, date, datetime, datetime]:
    """The month's first day, the next month's first day, and both as local midnights."""
    end = month_end(period)
    zone = ZoneInfo(timezone)
    return period, end, datetime.combine(period, time(), zone), datetime.combine(end, time(), zone)


@dataclass(frozen=True, slots=True)
class RunService:
    """A service as the run needs it: plain values, read once (no ORM attribute per line)."""

    id: int
    code: str
    meter_kind: str | None  # the MeterKind's value; None: not billed by meter
    utility: str | None


@dataclass(frozen=True, slots=True)
class ChosenTariff:
    """The tariff row a line names: its id and basis; or the owners' fee decision it prices by.

    A building's decided management fee (`billing.tariffs.building_fees`) is no tariff row: a
    line priced by one on the month's first day names the decision (`decision_id`) and no row.
    """

    id: int | None
    basis: Basis
    decision_id: int | None = None


@dataclass(frozen=True, slots=True)
class TariffRow:
    id: int
    company_id: int | None
    valid_from: date


class Tariffs:
    """The services and the tariffs overlapping the period, and each company's price history.

    Every tariff is read at the start (a few queries) and kept as plain values, so that a
    worker can keep them from one transaction to the next. The histories are merged then:
    the city's of each service and basis, and each company's with tariffs of its own; the
    other companies share the city's, so a flat quantity is priced once for all of them.
    """

    def __init__(self, session: Session, start: date, end: date) -> None:
        self.start = start
        self.services = [
            RunService(s.id, s.code, None if s.meter_kind is None else str(s.meter_kind), s.utility)
            for s in session.exec(select(Service).order_by(Service.id))
            if s.id is not None
        ]
        self.cold_water = [s for s in self.services if s.utility == Utility.cold_water]
        rows, tiers, norms = all_tariffs(session)
        self.rows: dict[tuple[int, Basis], list[TariffRow]] = defaultdict(list)
        for row in rows:
            if (
                row.id is not None
                and row.valid_from < end
                and (row.valid_until is None or row.valid_until > start)
            ):
                self.rows[(row.service_id, Basis(row.basis))].append(
                    TariffRow(row.id, row.company_id, row.valid_from)
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
        self._chosen: dict[tuple[int, Basis, int], ChosenTariff | None] = {}
        self._keys = keys
        # building -> its decided management fees (a few buildings of the city), and their histories
        self.end = end
        self.management = next((s.id for s in self.services if s.code == MANAGEMENT_SERVICE), None)
        self.building_fees = building_fee_windows(session)
        self._building: dict[tuple[int, int], tuple[int, list[TariffVersion]]] = {}

    def decided(
        self, service_id: int, basis: Basis, company_id: int, building_id: int | None
    ) -> list[BuildingFee]:
        """The building's decided fees that price this line in the month (management, per m2 only)."""
        if building_id is None or service_id != self.management or basis is not Basis.per_m2:
            return []
        return [
            fee
            for fee in self.building_fees.get(building_id, ())
            if fee.company_id == company_id and fee.overlaps(self.start, self.end)
        ]

    def tariff(
        self, service_id: int, basis: Basis, company_id: int, building_id: int | None = None
    ) -> ChosenTariff | None:
        """The tariff in force for the company (its own first, on the period's first day first),
        or the building's decided fee when it is in force on the period's first day."""
        fees = self.decided(service_id, basis, company_id, building_id)
        if fees and fees[0].valid_from <= self.start:
            return ChosenTariff(None, basis, fees[0].decision_id)
        row = self._row(service_id, basis, company_id)
        if fees and row is None:
            return ChosenTariff(None, basis, fees[0].decision_id)
        return row

    def _row(self, service_id: int, basis: Basis, company_id: int) -> ChosenTariff | None:
        key = (service_id, basis, company_id)
        if key not in self._chosen:
            rows = [r for r in self.rows[(service_id, basis)] if r.company_id in (None, company_id)]
            row = min(
                rows,
                key=lambda r: (r.company_id is None, r.valid_from > self.start, -r.valid_from.toordinal()),
                default=None,
            )
            self._chosen[key] = None if row is None else ChosenTariff(row.id, basis)
        return self._chosen[key]

    def history(
        self, service_id: int, basis: Basis, company_id: int, building_id: int | None = None
    ) -> tuple[int, list[TariffVersion]]:
        """The company's price history of the service and basis (with the building's decided fees
        over it, for the management fee), and a key shared by equal histories."""
        found = self._histories.get((service_id, basis, company_id))
        if found is None:
            found = self._histories.get((service_id, basis, None), (-1, []))
        fees = self.decided(service_id, basis, company_id, building_id)
        if not fees:
            return found
        assert building_id is not None
        key = (building_id, company_id)
        if key not in self._building:
            versions = overlaid([fee.version() for fee in fees], found[1])
            self._building[key] = (self._keys.setdefault(tuple(versions), len(self._keys)), versions)
        return self._building[key]


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
        self.tariffs = Tariffs(session, start, end)
        self.replaced = replacements(session)  # meter -> the meter it replaced
        # (history key, quantity) -> the charge and its parts, for flat lines (`billing.runs.lines`)
        self.prices: dict[tuple[int, Decimal | Fraction], tuple[LineCharge, list[dict[str, Any]]]] = {}
