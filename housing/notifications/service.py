"""Writing notifications (the outbox) in the caller's transaction, and reading them back.

`notify` never commits: the notice of an invoice is written with the invoice, so neither
exists without the other. A `dedupe` key makes a cause that runs twice write once.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from housing.db import insert_rows, is_postgres, reserve_ids
from housing.errors import NotFound
from housing.notifications.kinds import kind as kind_named
from housing.notifications.models import Notification

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Notice:
    """One user's notice before it is written: to whom, its fields, and the page it links to."""

    user_id: int
    params: Params
    link: str = ""
    key: str = (
        ""  # with `dedupe`: this notice's own cause (an invoice's id), keyed `{dedupe}:{key}:{user_id}`
    )


def notify(
    session: Session,
    *,
    user_ids: Iterable[int] | Select,
    kind: str,
    params: Params | None = None,
    link: str = "",
    dedupe: str | None = None,
    urgent: bool | None = None,
    now: datetime,
) -> int:
    """Writes one notification of `kind` to each user; returns how many were new.

    `user_ids` is ids or a query of them. With `dedupe`, each user's notice is keyed
    `{dedupe}:{user_id}` and a second call with the same key writes nothing.
    """
    ids = list(session.execute(user_ids).scalars()) if isinstance(user_ids, Select) else list(user_ids)
    notices = [Notice(user_id, params or {}, link) for user_id in dict.fromkeys(ids)]
    return notify_each(session, notices, kind=kind, dedupe=dedupe, urgent=urgent, now=now)


def notify_each(
    session: Session,
    notices: Iterable[Notice],
    *,
    kind: str,
    dedupe: str | None = None,
    urgent: bool | None = None,
    now: datetime,
) -> int:
    """Writes notices that differ per user (a billing run's thousands, one per invoice) in bulk.

    Without `dedupe` the rows go in by COPY (PostgreSQL): the caller's own unique keys (an
    invoice is issued once) already make its cause happen once. Returns how many were new.
    """
    spec = kind_named(kind)
    is_urgent = spec.urgent if urgent is None else urgent
    rows = [
        {
            "user_id": notice.user_id,
            "kind": kind,
            "params": json.loads(json.dumps(dict(notice.params), default=str)),  # JSON as it will be read
            "link": notice.link,
            "urgent": is_urgent,
            "dedupe_key": _dedupe_key(dedupe, notice),
            "created_at": now,
            "planned_at": None,
            "read_at": None,
        }
        for notice in notices
    ]
    if not rows:
        return 0
    table = Notification.__table__
    if dedupe is None:
        for row, id_ in zip(rows, reserve_ids(session, table, len(rows)), strict=True):
            row["id"] = id_
        insert_rows(session, table, rows)
        return len(rows)
    dialect = postgresql if is_postgres(session) else sqlite
    written = 0
    for start in range(0, len(rows), 5_000):
        # RETURNING, not rowcount: psycopg answers -1 for an executemany's rowcount.
        statement = (
            dialect.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
        )
        written += len(session.execute(statement, rows[start : start + 5_000]).all())
    return written


def _dedupe_key(dedupe: str | None, notice: Notice) -> str | None:
    if dedupe is None:
        return None
    return f"{dedupe}:{notice.key}:{notice.user_id}" if notice.key else f"{dedupe}:{notice.user_id}"


def inbox(user_id: int) -> Select:
    """A user's notifications, newest first."""
    return (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    )


def unread_count(session: Session, user_id: int) -> int:
    query = select(func.count()).where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
    return session.execute(query).scalar_one()


def mark_read(session: Session, *, user_id: int, notification_id: int | None, now: datetime) -> int:
    """Marks one of the user's notifications read (404 if not theirs), or all when None."""
    query = update(Notification).where(Notification.user_id == user_id, col(Notification.read_at).is_(None))
    if notification_id is not None:
        mine = session.get(Notification, notification_id)
        if mine is None or mine.user_id != user_id:
            raise NotFound(f"notification {notification_id} not found")
        query = query.where(Notification.id == notification_id)
    return session.execute(query.values(read_at=now)).rowcount or 0
