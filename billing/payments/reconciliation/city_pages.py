"""The city dashboard's payments: per gateway and day, for the city or one company, and the
companies side by side over the days. For officials and admins (`CityActor`); the figures
are `daily.daily_totals_query`'s, by the company that managed each building on the day.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from billing.models import DEFAULT_CURRENCY, Gateway
from billing.payments.reconciliation import daily
from billing.payments.reconciliation.pages import GatewayText, gateway_asked, range_asked
from housing.auth import CityActor
from housing.dashboard import PAGE_SIZE, CompanyId, Pager, query_string
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import NotFound
from housing.registry.models import ManagementCompany
from housing.routing import count_rows
from housing.validation import PageNumber, Text
from housing.web import render

router = APIRouter(include_in_schema=False)


@router.get("/city/payments", response_class=HTMLResponse)
def city_payments_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    today: Today,
    company_id: CompanyId = None,
    gateway: GatewayText = "",
    first: Annotated[Text, Query(alias="from", max_length=10)] = "",
    last: Annotated[Text, Query(alias="to", max_length=10)] = "",
    page: PageNumber = 1,
    company_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The city's (or one company's) payments per gateway and day, and the companies side by side."""
    chosen = gateway_asked(gateway)
    start, end = range_asked(first, last, today)
    company = None
    if company_id is not None:
        company = session.get(ManagementCompany, company_id)
        if company is None:
            raise NotFound(f"company {company_id} not found")
    days_query = daily.daily_totals_query(
        start, end, timezone=settings.timezone, gateway=chosen, company_id=company_id
    )
    pager = Pager(number=page, size=PAGE_SIZE, total=count_rows(session, days_query))
    totals = daily.day_totals(session.execute(days_query.limit(PAGE_SIZE).offset(pager.offset)).all())
    companies_query = daily.daily_totals_query(
        start, end, timezone=settings.timezone, gateway=chosen, by_company=True, by_day=False
    )
    company_pager = Pager(number=company_page, size=PAGE_SIZE, total=count_rows(session, companies_query))
    by_company = daily.day_totals(
        session.execute(companies_query.limit(PAGE_SIZE).offset(company_pager.offset)).all()
    )
    filters = query_string(
        company_id=company_id, gateway=chosen.value if chosen else None, **{"from": start, "to": end}
    )
    return render(
        request,
        "billing/city_payments.html",
        actor=actor,
        totals=totals,
        by_company=by_company,
        pager=pager,
        company_pager=company_pager,
        company=company,
        company_id=company_id,
        gateways=list(Gateway),
        gateway=chosen.value if chosen else "",
        first=start,
        last=end,
        currency=DEFAULT_CURRENCY,
        filters=filters,
        every_company=query_string(gateway=chosen.value if chosen else None, **{"from": start, "to": end}),
    )
