"""The billing rules DESIGN.md calls configurable, read from settings in this one place.

The due day, the penalty rate and cap (the rule itself: `billing.ledger.penalties`), the service-quality norms and deduction steps and
the outage allowances come from `housing.settings` (HOUSING_BILLING__*, HOUSING_METERS__*,
HOUSING_OUTAGES__*): the same fields the incident detector and the pages read, so a norm
changed there changes what billing deducts too. Whoever bills (the monthly job, `housing
bill`, the API and the console) builds `BillingRules.from_settings(settings)` and hands it
to `billing.runs.service` and `billing.ledger.service`, which stay free of settings and of any framework.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Self

from billing.ledger.penalties import PenaltyRules
from billing.tariffs.quality import QualityRules
from housing.settings import BillingSettings, MeterSettings, OutageSettings, Settings


@dataclass(frozen=True, slots=True)
class BillingRules:
    due_day: int  # of the month after the period
    min_days_to_pay: int  # after the issue date, at least
    tolerance: timedelta  # a smart meter's month boundary is extended at most this far
    penalties: PenaltyRules
    quality: QualityRules
    outages: OutageSettings

    @classmethod
    def of(cls, billing: BillingSettings, meters: MeterSettings, outages: OutageSettings) -> Self:
        return cls(
            due_day=billing.due_day,
            min_days_to_pay=billing.min_days_to_pay,
            tolerance=meters.boundary_tolerance,
            penalties=PenaltyRules.of(billing),
            quality=QualityRules.from_settings(meters),
            outages=outages,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls.of(settings.billing, settings.meters, settings.outages)


# The settings' defaults, for callers without settings (tests, benchmarks); not a copy of them.
DEFAULT_RULES = BillingRules.of(BillingSettings(), MeterSettings(), OutageSettings())
