"""The staff's view of deliveries (`/console/notifications`): each notification they may see,
with every channel's delivery, its attempts and outcome. Scoped by `queries.delivery_notifications`
(a company's residents and staff; admins all); other roles get 403, as on every console page."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from housing.accounts.models import User
from housing.auth import StaffActor
from housing.db import SessionDep, among
from housing.deps import Today
from housing.notifications.models import Delivery, DeliveryStatus, Notification
from housing.notifications.queries import delivery_notifications
from housing.routing import page_of
from housing.validation import PageNumber
from housing.web import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


@router.get("/console/notifications", response_class=HTMLResponse)
def deliveries_page(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    page: PageNumber = 1,
    status: Annotated[
        DeliveryStatus | None, Query(description="Only notifications with a delivery so")
    ] = None,
) -> Response:
    query = delivery_notifications(actor, today)
    if status is not None:
        query = query.where(
            col(Notification.id).in_(select(Delivery.notification_id).where(Delivery.status == status))
        )
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = session.exec(
        query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE)
    ).all()
    ids = [n.id for n in rows]
    deliveries: dict[int, list[Delivery]] = {}
    names: dict[int, str] = {}
    if ids:
        for delivery in session.exec(
            select(Delivery).where(among(session, Delivery.notification_id, ids)).order_by(Delivery.channel)
        ):
            deliveries.setdefault(delivery.notification_id, []).append(delivery)
        users = {n.user_id for n in rows}
        names = dict(
            session.exec(select(User.id, User.username).where(among(session, User.id, list(users)))).all()
        )
    return render(
        request,
        "notifications/deliveries.html",
        actor=actor,
        rows=rows,
        deliveries=deliveries,
        names=names,
        paging=paging,
        status=status.value if status else "",
        statuses=[s.value for s in DeliveryStatus],
    )
