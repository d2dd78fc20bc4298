"""Who may see a payment: the filter, written once, and the route dependency that loads a
visible payment or answers 404 (whoever sees its apartment today sees it)."""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Select

from billing.ledger.queries import of_visible_apartments
from billing.models import PaymentAttempt
from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.routing import one_visible
from housing.validation import Id


def visible_payments(actor: Actor, today: date) -> Select:
    """The payments of the apartments the actor sees today."""
    return of_visible_apartments(PaymentAttempt, actor, today)


def _visible_payment(
    payment_id: Id, session: SessionDep, actor: CurrentActor, today: Today
) -> PaymentAttempt:
    return one_visible(session, visible_payments(actor, today), PaymentAttempt, payment_id, "payment")


VisiblePayment = Annotated[PaymentAttempt, Depends(_visible_payment)]
"""The payment of the path's `payment_id` if the actor sees it, else 404."""
