"""A scored October for the city dashboard's tests: three companies, two districts.

Company A (the shared `city`'s) kept its deadlines and was rated 5, company B missed them
and was rated 1, company C (in a district of its own) had one request.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from housing import clock
from housing.accounts.models import Role
from housing.registry.models import Building, District, ManagementCompany
from housing.scores import service
from tests.factories.core import make_building, make_company, make_district, make_user
from tests.factories.scores import add_request, local, make_category

OCTOBER = "2026-10"
SCORED_AT = local(2026, 11, 5)


@dataclass
class Dashboard:
    district_c: District
    company_c: ManagementCompany
    building_c: Building


def rescore(session: Session, period: str = OCTOBER) -> None:
    month = clock.month(clock.parse_period(period), "Asia/Tashkent")
    service.recompute_month(session, month, now=SCORED_AT)
    session.commit()


def make_scored_city(session: Session, city) -> Dashboard:
    """A third company in a district of its own, and October's requests of all three, scored."""
    district_c = make_district(session, name="Chilonzor")
    company_c = make_company(session, name="Chilonzor Servis", district_id=district_c.id)
    building_c = make_building(session, company_c, district_id=district_c.id, address="Bunyodkor 7")
    filer = make_user(session, Role.admin, username="filer")
    category = make_category(session)
    # Company A resolves in 3 hours, rated 5; company B in 3 days, overdue, rated 1.
    for day in range(1, 11):
        for company, building, resolved_after, overdue, rating in (
            (city.company_a, city.building_a, timedelta(hours=3), False, 5),
            (city.company_b, city.building_b, timedelta(days=3), True, 1),
        ):
            add_request(
                session,
                company,
                building,
                category=category,
                filed_by=filer,
                filed=local(2026, 10, day, 9),
                resolved_after=resolved_after,
                overdue=overdue,
                rating=rating,
            )
    add_request(
        session,
        company_c,
        building_c,
        category=category,
        filed_by=filer,
        filed=local(2026, 10, 3, 9),
        resolved_after=timedelta(hours=5),
        rating=4,
    )
    session.commit()
    rescore(session)
    return Dashboard(district_c=district_c, company_c=company_c, building_c=building_c)
