"""Domain errors that carry their HTTP status; the app renders them as problem details."""

from typing import Any


def problem_body(status: int, title: str, detail: str, **members: Any) -> dict[str, Any]:
    """A problem details body (RFC 9457): its type, title, status and detail, then `members`."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail, **members}


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        body = problem_body(self.status, self.title, self.detail)
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Invalid(DomainError):
    status = 422
    title = "Invalid input"


class Unauthorized(DomainError):
    status = 401
    title = "Not authenticated"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class RateLimited(DomainError):
    status = 429
    title = "Too many requests"


class Unavailable(DomainError):
    status = 503
    title = "Service unavailable"


class TooLarge(DomainError):
    status = 413
    title = "Content too large"


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"
