"""Factories for the city's view of building money: published reports' rows, inserted directly.

The reports are published by billing (`billing.building_accounts`); what the officials' pages
read is only the frozen rows, so these write them as publishing would (the company that
managed the building on the quarter's last day, the due day from the settings' rule, one line
per non-zero category with the district and area copied in).
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlmodel import Session

from housing.building_money.models import BuildingReport, BuildingReportLine
from housing.building_money.rules import Quarter
from housing.building_money.service import company_managing
from housing.registry.models import Building

DUE_DAYS = 30  # MoneySettings' default


def publish(
    session: Session,
    building: Building,
    quarter: Quarter | str,
    *,
    lines: dict[str, int] | None = None,
    on: date | None = None,
    area_m2: Decimal | str | int = Decimal("1000.00"),
    company_id: int | None = None,
    due_days: int = DUE_DAYS,
) -> BuildingReport:
    """A report on `quarter` published on `on` (the due day by default), with these lines
    (category -> tiyin; zero amounts get no line, as publishing does)."""
    quarter = Quarter.parse(quarter) if isinstance(quarter, str) else quarter
    due_on = quarter.due_on(due_days)
    on = on or due_on
    company_id = company_id or company_managing(session, building.id, quarter.last_day)
    lines = {"cleaning": 100_000_00} if lines is None else lines
    spent = sum(lines.values())
    area = Decimal(area_m2)
    report = BuildingReport(
        building_id=building.id,
        company_id=company_id,
        year=quarter.year,
        quarter=quarter.number,
        area_m2=area,
        opening_balance_minor=0,
        income_minor=spent,
        expenses_minor=spent,
        closing_balance_minor=0,
        collected_to_date_minor=spent,
        debt_minor=0,
        accounts_in_debt=0,
        accounts=0,
        due_on=due_on,
        on_time=on <= due_on,
        # Noon in Tashkent: the local day is `on`.
        published_at=datetime.combine(on, time(7), UTC),
    )
    session.add(report)
    session.flush()
    for category, amount in lines.items():
        if amount:
            session.add(
                BuildingReportLine(
                    report_id=report.id,
                    building_id=building.id,
                    company_id=company_id,
                    district_id=building.district_id,
                    year=quarter.year,
                    quarter=quarter.number,
                    category=category,
                    amount_minor=amount,
                    area_m2=area,
                )
            )
    session.flush()
    return report


def day_after(day: date) -> date:
    return day + timedelta(days=1)
