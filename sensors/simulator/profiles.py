"""Usage and temperature profiles: pure functions of meter kind, local time and household.

How much water, electricity, gas and heat a household uses in each quarter hour of the
local day (water peaks in the morning and the evening, electricity in the evening, gas at
cooking hours plus heating in winter) and what the temperature sensors show (hot water
about 62 C, living rooms about 21 C). Device clocks run in Asia/Tashkent (+05:00).
"""

import math
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from housing.settings import CITY_TIMEZONE
from sensors.models import MeterKind

TIMEZONE = ZoneInfo(CITY_TIMEZONE)  # the simulated devices' clocks: the default city
STEP = timedelta(minutes=15)
STEPS_PER_DAY = 96
DEFAULT_BUILDING_AREA_M2 = 3000.0
LUKEWARM_C = 45.0
COLD_FLAT_C = 15.0


def _shape(*weights: float) -> tuple[float, ...]:
    """24 hourly weights scaled to a mean of 1, so daily use / 96 * weight is a quarter hour's use."""
    assert len(weights) == 24
    total = sum(weights)
    return tuple(w * 24 / total for w in weights)


WATER_SHAPE = _shape(
    0.25, 0.06, 0.03, 0.03, 0.06, 0.5, 1.7, 2.6, 2.1, 1.3, 0.9, 0.9,
    1.1, 1.0, 0.8, 0.7, 0.8, 1.1, 1.6, 2.2, 2.4, 1.9, 1.2, 0.6,
)  # fmt: skip
ELECTRICITY_SHAPE = _shape(
    0.5, 0.45, 0.42, 0.42, 0.45, 0.55, 0.9, 1.2, 1.0, 0.8, 0.75, 0.75,
    0.85, 0.8, 0.75, 0.75, 0.85, 1.1, 1.6, 2.0, 2.2, 2.0, 1.5, 0.9,
)  # fmt: skip
COOKING_SHAPE = _shape(
    0.01, 0.0, 0.0, 0.0, 0.02, 0.3, 1.6, 2.2, 1.4, 0.6, 0.6, 1.2,
    2.4, 1.8, 0.6, 0.4, 0.6, 1.4, 2.8, 3.0, 1.8, 0.8, 0.3, 0.05,
)  # fmt: skip
HEATING_SHAPE = _shape(
    1.1, 1.15, 1.2, 1.2, 1.2, 1.15, 1.1, 1.0, 0.95, 0.9, 0.85, 0.8,
    0.8, 0.8, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.05, 1.1, 1.1, 1.1,
)  # fmt: skip
# Share of full heating demand by month: Tashkent heats from mid-October to mid-April.
HEATING_BY_MONTH = {1: 1.0, 2: 0.85, 3: 0.5, 4: 0.1, 10: 0.15, 11: 0.6, 12: 0.95}

# Per day: cold water m3 a person, hot water m3 a person, electricity kWh (flat + a
# person), gas m3 for cooking (flat + a person) and for heating per m2 at full demand,
# building heat Gcal per m2 at full demand.
COLD_WATER_M3 = 0.10
HOT_WATER_M3 = 0.05
ELECTRICITY_KWH = (2.5, 1.3)
COOKING_GAS_M3 = (0.25, 0.12)
HEATING_GAS_M3_PER_M2 = 0.03
HEAT_GCAL_PER_M2 = 0.0011

# Water and gas flow in short draw-offs: a quiet quarter hour mostly shows nothing.
DRAW_OFF = {MeterKind.cold_water: 0.008, MeterKind.hot_water: 0.006, MeterKind.gas: 0.04}


def heating_factor(day: date) -> float:
    return HEATING_BY_MONTH.get(day.month, 0.0)


def daily_use(kind: MeterKind | str, day: date, *, residents: int, area_m2: float) -> float:
    """Expected use of one day in the meter's unit (m3, kWh, Gcal)."""
    kind = MeterKind(kind)
    people = max(residents, 1)
    if kind is MeterKind.cold_water:
        return COLD_WATER_M3 * people
    if kind is MeterKind.hot_water:
        return HOT_WATER_M3 * people
    if kind is MeterKind.electricity:
        return ELECTRICITY_KWH[0] + ELECTRICITY_KWH[1] * people
    if kind is MeterKind.gas:
        cooking = COOKING_GAS_M3[0] + COOKING_GAS_M3[1] * people
        return cooking + HEATING_GAS_M3_PER_M2 * area_m2 * heating_factor(day)
    return HEAT_GCAL_PER_M2 * area_m2 * heating_factor(day)


def mean_daily_use(kind: MeterKind | str, *, residents: int, area_m2: float) -> float:
    """Average daily use over a year (for estimating a register with no readings)."""
    days = [date(2025, month, 15) for month in range(1, 13)]
    return sum(daily_use(kind, d, residents=residents, area_m2=area_m2) for d in days) / 12


def expected_step_use(kind: MeterKind | str, at: datetime, *, residents: int, area_m2: float) -> float:
    """Expected use in the quarter hour starting at `at` (aware), by the local hour."""
    kind = MeterKind(kind)
    local = at.astimezone(TIMEZONE)
    hour, day = local.hour, local.date()
    if kind is MeterKind.gas:
        cooking = COOKING_GAS_M3[0] + COOKING_GAS_M3[1] * max(residents, 1)
        heating = HEATING_GAS_M3_PER_M2 * area_m2 * heating_factor(day)
        return (cooking * COOKING_SHAPE[hour] + heating * HEATING_SHAPE[hour]) / STEPS_PER_DAY
    shape = {
        MeterKind.cold_water: WATER_SHAPE,
        MeterKind.hot_water: WATER_SHAPE,
        MeterKind.electricity: ELECTRICITY_SHAPE,
        MeterKind.heat: HEATING_SHAPE,
    }[kind]
    return daily_use(kind, day, residents=residents, area_m2=area_m2) / STEPS_PER_DAY * shape[hour]


def draw_step_use(kind: MeterKind | str, expected: float, rng: random.Random) -> float:
    """One random quarter hour's use with the given expectation (never negative)."""
    draw_off = DRAW_OFF.get(MeterKind(kind))
    if draw_off is not None and expected < draw_off:
        return draw_off * rng.uniform(0.5, 1.5) if rng.random() < expected / draw_off else 0.0
    return expected * rng.uniform(0.6, 1.4)


def hot_water_temperature(at: datetime, rng: random.Random, *, lukewarm: bool = False) -> float:
    """Supply temperature at the riser: about 62 C, a little lower at the peaks."""
    if lukewarm:
        return round(LUKEWARM_C + rng.gauss(0, 0.6), 2)
    hour = at.astimezone(TIMEZONE).hour
    peak = 1.5 if hour in (7, 8, 19, 20, 21) else 0.0
    return round(62.5 - peak + rng.gauss(0, 0.6), 2)


def indoor_temperature(at: datetime, rng: random.Random, *, cold: bool = False) -> float:
    """A living room: about 21 C in the heating season, warmer in summer afternoons."""
    if cold:
        return round(COLD_FLAT_C + rng.gauss(0, 0.3), 2)
    local = at.astimezone(TIMEZONE)
    hour = local.hour + local.minute / 60
    if heating_factor(local.date()) > 0:
        base = 21.0 + 0.7 * math.cos(2 * math.pi * (hour - 19) / 24)
    else:
        base = 24.5 + 2.0 * math.cos(2 * math.pi * (hour - 16) / 24)
    return round(base + rng.gauss(0, 0.25), 2)


def floor_step(at: datetime) -> datetime:
    """The quarter hour at or before `at` (aware; a naive time is read as Tashkent time)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=TIMEZONE)
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
