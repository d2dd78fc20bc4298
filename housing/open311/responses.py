"""HTTP answers of the Open311 routes, errors included, in the format the path asks for.

Open311 clients expect errors as the spec's list of {code, description}, not as problem
details. The app's error handlers call error_response for paths under the Open311 prefix:
handling errors there, after the exception has left the route, lets the request's
transaction roll back first.
"""

from typing import Any

from fastapi import Request, Response

from housing.open311 import formats

# The spec answers bad input with 400; our domain says 422 for the same thing.
SPEC_STATUS = {422: 400}


def _formats(json_schema: dict[str, Any]) -> dict[str, Any]:
    """The two formats a path's extension picks; XML is described by the spec, not by a JSON schema."""
    return {
        formats.MEDIA_TYPES[formats.JSON].split(";")[0]: {"schema": json_schema},
        formats.MEDIA_TYPES[formats.XML].split(";")[0]: {"schema": {"type": "string"}},
    }


_LIST = {"type": "array", "items": {"type": "object"}}
_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
# The router's: every error is the spec's list of {code, description}, in the path's format.
ERRORS = {
    "4XX": {
        "description": "The spec's error list: 400 invalid input, 403 no valid api_key, 404 not found,"
        " 409 filed twice, 413 too large, 429 too many today",
        "content": _formats(_ERRORS),
    }
}


def documented(status: int = 200, json_schema: dict[str, Any] | None = None) -> dict[int | str, Any]:
    """`responses=` of a route: what it answers in JSON and in XML."""
    return {
        status: {"description": "As the path's extension asks", "content": _formats(json_schema or _LIST)}
    }


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
