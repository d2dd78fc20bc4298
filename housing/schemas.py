"""Shapes shared by every package's API: pagination, the read-model base, and the errors' shape."""

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from housing.validation import Offset

T = TypeVar("T")


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page")] = 50,
    offset: Annotated[Offset, Query(description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


# Errors: problem details (RFC 9457), as the app's handlers write them.

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An error of the JSON API, sent as application/problem+json."""

    model_config = ConfigDict(extra="allow")  # a domain error adds its own members (retry_after, ...)

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="What went wrong, for a person to read")
    instance: str | None = Field(None, description="The path asked for")
    field: str | None = Field(None, description="The input at fault, when one is")
    errors: list[dict[str, Any]] | None = Field(
        None, description="Every fault found: each input with its reason, or each bad line of a file"
    )


PROBLEMS = {
    400: "The request cannot be read as sent",
    401: "Not logged in, or the token expired or was revoked",
    403: "This role may not do this",
    404: "Not found within what the actor may see",
    409: "It conflicts with the current state (a duplicate, a move not allowed from here)",
    413: "The body is larger than this kind of request accepts",
    415: "The content is not of a type accepted here",
    422: "Invalid input: `field` names it, `errors` lists every fault",
    429: "Too many requests: `Retry-After` says when to try again",
    503: "A service this needs is not available; `detail` says which",
}


def problems(*statuses: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a router or a route: these statuses answer problem details (`why` says
    more about some of them for this route)."""
    why = why or {}
    return {
        status: {"model": Problem, "description": why.get(status, PROBLEMS[status])} for status in statuses
    }


# Every JSON API router: any route may be asked without a login, by a role it refuses, for
# something out of the actor's sight, or with invalid input.
API_PROBLEMS = problems(401, 403, 404, 422)
# Added to each operation by problem_documents(): a write may conflict; a body may not be
# readable at all (400) or too large (413).
_WRITE_PROBLEMS = problems(409)
_BODY_PROBLEMS = problems(400, 413, why={400: "The body is not JSON, or not in UTF-8"})
# `openapi_extra=` of an operation that answers 200 whatever happens, its errors in its own
# body (a payment provider's merchant API): problem_documents() adds no problems to it.
ALWAYS_200 = {"x-always-200": True}


def problem_documents(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as we answer: errors are application/problem+json, writes may be 409
    and bodies 400 or 413. FastAPI files every model under application/json; this moves the errors'."""
    schema = {"$ref": "#/components/schemas/Problem"}
    for path in spec.get("paths", {}).values():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            extra = {}
            if "4XX" in responses:  # Open311: its own error list for every 4xx
                continue
            if operation.get("x-always-200"):  # its errors are in its 200 answer
                continue
            if method in ("post", "put", "patch", "delete"):
                extra |= _WRITE_PROBLEMS
            if "requestBody" in operation:
                extra |= _BODY_PROBLEMS
            for status, response in extra.items():
                responses.setdefault(str(status), {"description": response["description"]})
                responses[str(status)].setdefault("content", {PROBLEM_JSON: {"schema": schema}})
            for status, response in responses.items():
                content = response.get("content", {})
                if status[0] in "45" and content.get("application/json", {}).get("schema") == schema:
                    content[PROBLEM_JSON] = content.pop("application/json")
    return spec
