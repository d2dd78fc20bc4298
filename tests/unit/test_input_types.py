"""Every input of every route, pages included, is bounded by housing.validation's rules.

Walks the app's routes (their path, query, header, cookie and form parameters and the
dependencies behind them) and every model a client fills, and fails on:
- an integer, a float or a decimal without bounds that fit the database's columns,
- a date or a datetime without a range of years,
- text that is not checked for control characters,
- a body model that does not derive from InputModel (which also keeps booleans out of numbers).
A new route or field that escapes these rules fails here before a fuzzer finds it.
"""

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from annotated_types import GroupedMetadata
from fastapi import UploadFile
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from housing import validation
from housing.app import create_app
from housing.validation import INT64_MAX, InputModel
from tests.conftest import make_settings

PLAIN = (bool, bytes, UploadFile, NoneType)


def _flat(metadata: tuple[Any, ...]) -> list[Any]:
    flat = []
    for item in metadata:
        if isinstance(item, FieldInfo):  # Field(...) inside an Annotated: its constraints
            flat.extend(_flat(tuple(item.metadata)))
        elif isinstance(item, GroupedMetadata):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def _bounds(metadata: list[Any]) -> tuple[Any, Any]:
    low = high = None
    for item in metadata:
        for name in ("ge", "gt"):
            low = getattr(item, name, None) if getattr(item, name, None) is not None else low
        for name in ("le", "lt"):
            high = getattr(item, name, None) if getattr(item, name, None) is not None else high
    return low, high


def _validators(metadata: list[Any]) -> list[Any]:
    return [getattr(item, "func", None) for item in metadata]


def leaves(annotation: Any, metadata: tuple[Any, ...] = ()) -> Iterator[tuple[Any, list[Any]]]:
    """(type, the metadata that applies to it) for every type an annotation may take."""
    origin = get_origin(annotation)
    if origin is Annotated:
        args = get_args(annotation)
        yield from leaves(args[0], metadata + tuple(args[1:]))
    elif origin in (Union, UnionType):
        for arg in get_args(annotation):
            yield from leaves(arg, metadata)
    elif origin is Literal:
        yield Literal, []
    elif origin in (list, tuple, set, frozenset):
        for arg in get_args(annotation):
            yield from leaves(arg)  # the items' own bounds, not the list's length
    elif annotation is AwareDatetime:
        yield datetime, _flat(metadata)
    else:
        yield annotation, _flat(metadata)


def problems(annotation: Any, metadata: tuple[Any, ...], *, checked_text: bool) -> list[str]:
    found = []
    for kind, meta in leaves(annotation, metadata):
        if kind is Literal or kind in PLAIN or (isinstance(kind, type) and issubclass(kind, Enum)):
            continue
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += [f"{kind.__name__}: {p}" for p in model_problems(kind)]
        elif kind is str:
            validators = _validators(meta)
            month = any(hasattr(func, "years") for func in validators)  # validation.Month: digits only
            if not checked_text and validation.check_text not in validators and not month:
                found.append("text not checked for control characters (use validation.Text)")
        elif kind in (int, float):
            low, high = _bounds(meta)
            if low is None or high is None or low < -INT64_MAX - 1 or high > INT64_MAX:
                found.append(f"{kind.__name__} without bounds within the database's range ({low}, {high})")
        elif kind is Decimal:
            if not any(getattr(item, "max_digits", None) for item in meta):
                found.append("decimal without max_digits")
        elif kind in (date, datetime):
            if not any(hasattr(func, "years") for func in _validators(meta)):
                found.append(f"{kind.__name__} without a range of years (use validation.Day or Moment)")
        elif kind.__module__ == "fractions":
            continue  # parsed by its own validator from text
        else:
            found.append(f"unexpected input type {kind!r}")
    return found


def model_problems(model: type[BaseModel]) -> list[str]:
    if not issubclass(model, InputModel):
        return [f"{model.__name__} does not derive from InputModel"]
    found = []
    for name, field in model.model_fields.items():
        found += [
            f"{name}: {p}" for p in problems(field.annotation, tuple(field.metadata), checked_text=True)
        ]
    return found


def _params(dependant) -> Iterator[Any]:
    yield from dependant.path_params
    yield from dependant.query_params
    yield from dependant.header_params
    yield from dependant.cookie_params
    yield from dependant.body_params
    for sub in dependant.dependencies:
        yield from _params(sub)


def _api_routes(routes) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI keeps it whole)
            yield from _api_routes(route.original_router.routes)


def _routes() -> list[APIRoute]:
    return list(_api_routes(create_app(make_settings("sqlite://")).routes))


ROUTES = _routes()


@pytest.mark.parametrize("route", ROUTES, ids=[f"{sorted(r.methods)[0]} {r.path} {r.name}" for r in ROUTES])
def test_every_input_of_the_route_is_bounded(route: APIRoute):
    found = []
    for param in _params(route.dependant):
        info = param.field_info
        found += [
            f"{param.name}: {p}" for p in problems(info.annotation, tuple(info.metadata), checked_text=False)
        ]
    assert not found, "\n".join(found)


def test_the_rules_see_what_they_must():
    """The walker itself: an unbounded id, a bare date and unchecked text are caught."""

    class Loose(InputModel):
        id: int
        day: date | None = None
        name: str

    class Tight(InputModel):
        id: validation.Id
        day: validation.Day | None = None
        name: validation.Text

    assert problems(int, (), checked_text=False)
    assert problems(str, (), checked_text=False)
    assert not problems(validation.Text, (), checked_text=False)
    assert len(model_problems(Loose)) == 2  # the id and the day; its text is checked by InputModel
    assert not model_problems(Tight)
    assert model_problems(type("Plain", (BaseModel,), {"__annotations__": {"x": int}}))
