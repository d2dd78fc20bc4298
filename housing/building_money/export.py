"""The city's building-money lists as CSV: the cost comparison and the late reports."""

from collections.abc import Iterator

from housing.building_money.comparison import Group
from housing.building_money.costs import CostComparison
from housing.building_money.deadlines import DueReport
from housing.csvtext import blank, csv_text


def uzs_per_m2(tiyin_per_m2: float | None) -> float | None:
    """Tiyin per m2 as UZS per m2, to the tiyin."""
    return None if tiyin_per_m2 is None else round(tiyin_per_m2 / 100, 2)


COSTS_HEADER = [
    "quarter", "category", "district_filter", "level", "id", "name", "buildings", "median_uzs_per_m2",
    "spent_uzs", "area_m2", "outlier_buildings_high", "outlier_buildings_low", "median_z", "median_outlier",
    "city_median_uzs_per_m2", "city_mad_uzs_per_m2",
]  # fmt: skip


def costs_csv(found: CostComparison) -> str:
    """One line per company, then one per district; each with the city's median and MAD beside it."""
    return csv_text(COSTS_HEADER, _costs_rows(found))


def _costs_rows(found: CostComparison) -> Iterator[list[object]]:
    spread = found.result.spread
    common = [str(found.quarter), found.category.value if found.category else "all", blank(found.district_id)]
    city = [uzs_per_m2(spread.median), uzs_per_m2(spread.mad)] if spread else ["", ""]

    def line(level: str, group: Group, name: str) -> list[object]:
        return [
            *common, level, group.key, name, group.n, uzs_per_m2(group.median_per_m2),
            round(group.total_minor / 100, 2), group.area_m2, len(group.outliers_high), len(group.outliers_low),
            "" if group.z is None else round(group.z, 3), group.outlier.value if group.outlier else "", *city,
        ]  # fmt: skip

    for group in found.result.companies:
        yield line("company", group, found.company_names.get(group.key, ""))
    for group in found.result.districts:
        yield line("district", group, found.district_names.get(group.key, ""))


LATE_HEADER = [
    "quarter", "building_id", "address", "district_id", "company_id", "company_name", "due_on", "state",
    "days_late",
]  # fmt: skip


def late_csv(rows: list[DueReport]) -> str:
    return csv_text(LATE_HEADER, (_late_row(r) for r in rows))


def _late_row(r: DueReport) -> list[object]:
    return [
        str(r.quarter), r.building_id, r.address, r.district_id, r.company_id, r.company_name,
        r.due_on.isoformat(), r.state.value, r.days_late,
    ]  # fmt: skip
