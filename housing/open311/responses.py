"""HTTP answers of the Open311 routes, errors included, in the format the path asks for.

The app's own handlers answer errors as problem+json; Open311 clients expect the spec's
list of {code, description} instead. Open311Route catches errors inside the route, before
those handlers see them, so the rest of the app keeps its own format.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError

from housing.errors import DomainError
from housing.open311 import formats

# The spec answers bad input with 400; our domain says 422 for the same thing.
SPEC_STATUS = {422: 400}


def respond(fmt: str, root: str, data: Any, status_code: int = 200) -> Response:
    return Response(
        formats.render(fmt, root, data), status_code=status_code, media_type=formats.MEDIA_TYPES[fmt]
    )


def error_response(
    request: Request, status: int, description: str, headers: dict[str, str] | None = None
) -> Response:
    # The path's extension, even on a path we do not serve (services.json, requests/7.xml).
    fmt = request.url.path.rsplit("/", 1)[-1].rpartition(".")[2]
    # XML is the format every GeoReport server must speak, so it answers a format we do not know.
    fmt = fmt if fmt in formats.FORMATS else formats.XML
    status = SPEC_STATUS.get(status, status)
    response = respond(fmt, "errors", formats.error_list(status, description), status_code=status)
    response.headers.update(headers or {})
    return response


def _validation_description(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"] if p not in ("body", "query", "path"))
        parts.append(f"{field or 'request'}: {error['msg']}")
    return "; ".join(parts)


class Open311Route(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                headers = (
                    {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
                )
                return error_response(request, exc.status, exc.detail, headers)
            except RequestValidationError as exc:
                return error_response(request, 400, _validation_description(exc))
            except IntegrityError:
                # Services check what they can; this is a race between two writers.
                return error_response(request, 409, "the request conflicts with another one; try again")

        return open311_handler
