"""Helpers the routes share: pagination (JSON and HTML) and loading a row within the actor's scope."""

from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import Select, func
from sqlmodel import Session, SQLModel, select

from housing.errors import NotFound
from housing.schemas import PageParams, page_params

Paging = Annotated[PageParams, Depends(page_params)]


def paginate(session: Session, query: Select, paging: PageParams, order_by: Any) -> dict[str, Any]:
    total = count_rows(session, query)
    rows = session.exec(query.order_by(order_by).limit(paging.limit).offset(paging.offset))
    return {"items": list(rows), "total": total, "limit": paging.limit, "offset": paging.offset}


def count_rows(session: Session, query: Select) -> int:
    return session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()


def counted_page(
    session: Session, query: Select, *order: Any, limit: int | None, offset: int
) -> tuple[list[Any], int]:
    """A page of the rows `query` selects in this order (all from `offset` when limit is None),
    and how many it selects in all: two queries, whatever the page."""
    total = count_rows(session, query)
    query = query.order_by(*order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).all()), total


def page_of(session: Session, query: Select, page: int, size: int) -> dict[str, int]:
    """A page's place in an HTML list: the page asked for (at most the last), the last, the total."""
    total = count_rows(session, query)
    last = max(1, -(-total // size))
    return {"page": min(page, last), "last": last, "total": total}


def one_visible(session: Session, query: Select, model: type[SQLModel], id_: int, label: str) -> Any:
    """A row outside the actor's scope is 404, like one that does not exist, so ids do not leak."""
    row = session.exec(query.where(model.id == id_)).first()
    if row is None:
        raise NotFound(f"{label} {id_} not found")
    return row
