"""Composition root for the web process: create_app(settings) wires everything; nothing at import."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from billing.building_accounts import pages as building_account_pages
from billing.building_accounts.endpoints import router as building_accounts_router
from billing.instalments import pages as instalment_pages
from billing.instalments.endpoints import router as instalments_router
from billing.invoices import pages as billing_pages
from billing.invoices.endpoints import router as invoices_router
from billing.ledger import console_pages as debtors_console
from billing.payments import pages as payment_pages
from billing.payments.checkouts import checkout_origins
from billing.payments.click import endpoints as click_endpoints
from billing.payments.endpoints import router as payments_router
from billing.payments.payme import endpoints as payme_endpoints
from billing.payments.reconciliation import city_pages as city_payment_pages
from billing.payments.reconciliation import pages as reconciliation_pages
from billing.payments.reconciliation.endpoints import router as reconciliation_router
from billing.payments.stripe_gateway import StripeGateway
from billing.payments.webhooks import router as webhooks_router
from billing.runs import console_pages as billing_run_console
from billing.tariffs.endpoints import router as billing_router
from housing import pages
from housing.accounts.endpoints import router as accounts_router
from housing.accounts.passwords import Passwords
from housing.accounts.ratelimit import LoginThrottle
from housing.announcements import console_pages as announcement_console
from housing.announcements import pages as announcement_pages
from housing.announcements.endpoints import router as announcements_router
from housing.apidocs import add_api_docs
from housing.bodylimit import BodyLimit
from housing.bot import webhook as telegram_webhook
from housing.bot.handlers import build_bot
from housing.building_money import city_pages as city_money_pages
from housing.building_money import console_pages as money_console
from housing.building_money.city_endpoints import router as city_money_router
from housing.building_money.endpoints import router as money_router
from housing.csrf import CSRFProtection
from housing.db import make_engine
from housing.errors import DomainError, problem_body
from housing.incidents import city_pages as city_incident_pages
from housing.incidents.endpoints import router as incidents_router
from housing.inflight import RequestsInFlight
from housing.meetings import city_pages as city_meeting_pages
from housing.meetings import console_pages as meeting_console
from housing.meetings import initiative_pages as meeting_initiatives
from housing.meetings import pages as meeting_pages
from housing.meetings.endpoints import router as meetings_router
from housing.notifications import console_pages as notification_console
from housing.notifications import pages as notification_pages
from housing.notifications.endpoints import router as notifications_router
from housing.open311.endpoints import PREFIX as OPEN311_PREFIX
from housing.open311.endpoints import router as open311_router
from housing.open311.responses import error_response as open311_error
from housing.registry import pages as registry_pages
from housing.registry.endpoints import router as registry_router
from housing.registry.import_endpoints import router as import_router
from housing.requests import city_pages as city_request_pages
from housing.requests import console_pages as request_console_pages
from housing.requests import pages as request_pages
from housing.requests.endpoints import router as requests_router
from housing.schemas import problem_documents
from housing.scores import pages as scores_pages
from housing.scores.endpoints import router as scores_router
from housing.settings import Settings
from housing.timing import ServerTiming
from housing.twin import city_pages as twin_city_pages
from housing.twin import map_pages as twin_map_pages
from housing.twin import pages as twin_pages
from housing.twin.city_endpoints import router as twin_city_router
from housing.twin.endpoints import router as twin_router
from housing.twin.map_endpoints import router as twin_map_router
from housing.web import STATIC_DIR, make_templates, render
from sensors.meters import console_pages as sensors_console
from sensors.meters import pages as sensors_pages
from sensors.meters.endpoints import router as meters_router
from sensors.usage.endpoints import router as usage_router

API_PREFIX = "/api/v1"
PAYME_PATH = API_PREFIX + payme_endpoints.PATH
PROBLEM = "application/problem+json"

log = logging.getLogger(__name__)
LOCATIONS = ("body", "query", "path", "header", "cookie")

# The routes a payment provider calls answer in its own format, also when a call is refused
# before the route runs (a body over the size limit): Click's by path, {path: answer(detail)}.
CLICK_REFUSALS = click_endpoints.answers_before_the_route(API_PREFIX)
# Their requests are signed by the provider, never authenticated by a cookie: no CSRF token.
PROVIDER_PATHS = (f"{API_PREFIX}/merchant/",)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(settings: Settings) -> str:
    """Our own origin only, except Stripe.js (from its setting's origin) on the card form, the
    configured Payme and Click checkouts as form targets, and the city map's tile server's
    images when one is configured.

    Stripe.js talks to its API and shows 3-D Secure in frames from Stripe's origins; the
    local stand-in talks to the server it is served from, so its origin is enough there. The
    pay form's POST answers with a redirect to the provider's checkout, and browsers hold
    such a redirect to form-action too (Chromium does), so its origin is listed there.
    """
    stripe = ""
    if settings.stripe.configured:
        parts = urlsplit(settings.stripe.js_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        stripe = f" {origin}"
        if parts.netloc == "js.stripe.com":
            stripe += " https://api.stripe.com https://*.stripe.com"
    frames = stripe or " 'none'"
    forms = "".join(f" {origin}" for origin in checkout_origins(settings))
    tiles = twin_map_pages.tile_origin(settings.twin.tile_url)  # the city map's tiles, when configured
    images = f" {tiles}" if tiles else ""
    return (
        f"default-src 'self'; script-src 'self'{stripe}; connect-src 'self'{stripe}; frame-src{frames};"
        f" img-src 'self' data:{images}; form-action 'self'{forms}; frame-ancestors 'none'"
    )


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Builds the web app; pass an engine to share one pool (tests, the demo)."""
    settings = settings or Settings()
    app = FastAPI(
        title="Housing platform",
        version="1",
        description="Registry, meters, billing and service requests for apartment buildings.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # our own /docs and /redoc (housing/apidocs.py): no CDN, no inline script
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings)
    app.state.passwords = Passwords.from_settings(settings)
    app.state.login_throttle = LoginThrottle(settings.auth.login_rate_limit, settings.auth.rate_limit_storage)
    app.state.templates = make_templates()
    # Live building views: one hub per process, its thread running only while someone watches.
    twin_pages.install(app.state, settings)
    # Card payments only with Stripe settings; the payment routes say so (503) otherwise.
    app.state.payment_gateway = StripeGateway(settings.stripe) if settings.stripe.configured else None
    # Telegram's webhook (POST /telegram/webhook) only in webhook mode; 404 otherwise.
    on = telegram_webhook.webhook_on(settings)
    app.state.telegram_bot = build_bot(app.state.engine, settings) if on else None

    for router in (
        accounts_router,
        registry_router,
        import_router,
        meters_router,
        usage_router,
        billing_router,
        invoices_router,
        instalments_router,
        reconciliation_router,  # before payments: /payments/daily is not /payments/{payment_id}
        payments_router,
        webhooks_router,
        payme_endpoints.router,
        click_endpoints.router,
        requests_router,
        incidents_router,
        notifications_router,
        announcements_router,
        meetings_router,
        building_accounts_router,
        money_router,
        city_money_router,
        twin_city_router,
        twin_router,
        twin_map_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(open311_router, prefix=OPEN311_PREFIX)
    app.include_router(scores_router, prefix=API_PREFIX)
    for router in (
        pages.router,
        billing_pages.router,
        payment_pages.router,
        sensors_pages.router,
        request_pages.router,
        request_console_pages.router,
        announcement_pages.router,
        announcement_console.router,
        meeting_initiatives.router,
        meeting_pages.router,
        meeting_console.router,
        registry_pages.router,
        sensors_console.router,
        debtors_console.router,
        reconciliation_pages.router,
        city_payment_pages.router,
        instalment_pages.router,
        billing_run_console.router,
        scores_pages.router,
        city_request_pages.router,
        city_incident_pages.router,
        city_meeting_pages.router,
        city_money_pages.router,
        twin_city_pages.router,
        notification_pages.router,
        notification_console.router,
        building_account_pages.router,
        money_console.router,
        twin_pages.router,
        twin_map_pages.router,
        telegram_webhook.router,
    ):
        app.include_router(router)  # the HTML pages (and Telegram's webhook)
    csp = content_security_policy(settings)
    add_api_docs(app, openapi_url=f"{API_PREFIX}/openapi.json", csp=csp)  # mounts /static/docs first
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _add_health(app)
    _add_error_handlers(app)
    _document_problems(app)

    app.add_middleware(
        CSRFProtection,
        secret=settings.auth.secret_key.get_secret_value(),
        secure=settings.secure_cookies,
        unprotected=PROVIDER_PATHS,
    )
    # Outside the CSRF check, which reads whole forms: a body over its limit is refused as it
    # streams in, before anything parses it.
    app.add_middleware(BodyLimit, limits=settings.limits, refuse=_problem)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", csp)
        if settings.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    app.add_middleware(ServerTiming)
    app.add_middleware(RequestsInFlight, limit=settings.db.pool_size)  # outermost: see housing/inflight.py
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.live.stop()  # ends the open live streams and the hub's thread


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document says application/problem+json for the errors, as the handlers send them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_documents(build())
        return app.openapi_schema

    app.openapi = openapi


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness and readiness: the process answers and the database does too."""
        with app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok"}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or "text/html" not in request.headers.get("accept", "")


def _problem(request: Request, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    if request.url.path.rstrip("/") == PAYME_PATH:
        # Payme reads every answer as JSON-RPC with HTTP 200, also a body too large or a GET.
        return payme_endpoints.refusal(body["status"])
    click = CLICK_REFUSALS.get(request.url.path) if request.method == "POST" else None
    if click is not None:  # Click reads only its own answers (always 200)
        return click(str(body["detail"]))
    if request.url.path.startswith(f"{OPEN311_PREFIX}/"):
        # Open311 clients read the spec's list of {code, description}, in JSON or XML.
        return open311_error(request, body["status"], body["detail"], headers)
    body.setdefault("instance", request.url.path)
    if _wants_json(request):
        return JSONResponse(body, status_code=body["status"], media_type=PROBLEM, headers=headers)
    response = render(request, "housing/error.html", status_code=body["status"], problem=body)
    response.headers.update(headers or {})
    return response


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    def domain_error(request: Request, exc: DomainError) -> Response:
        headers = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if "retry_after" in exc.extra:
            headers["Retry-After"] = str(exc.extra["retry_after"])
        return _problem(request, exc.problem(), headers)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                # The location first (body, query, ...), then the field's own path, which may be "body".
                "field": ".".join(str(p) for p in err["loc"][1 if err["loc"][0] in LOCATIONS else 0 :]),
                "reason": err["msg"],
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field'] or 'body'}: {e['reason']}" for e in errors)
        body = problem_body(422, "Invalid input", detail, errors=errors)
        if errors:
            body["field"] = errors[0]["field"]
        return _problem(request, body)

    @app.exception_handler(IntegrityError)
    def integrity_error(request: Request, exc: IntegrityError) -> Response:
        # Services check what they can; this catches a race between two writers.
        body = problem_body(409, "Conflict", "the change conflicts with existing data; reload and try again")
        return _problem(request, body)

    @app.exception_handler(Exception)
    def unexpected_error(request: Request, exc: Exception) -> Response:
        # A bug, not the client's fault: logged with its traceback, answered in the path's own
        # error format (problem details, the HTML page, Open311's list), never as plain text.
        log.error("unhandled error answering %s %s", request.method, request.url.path, exc_info=exc)
        body = problem_body(
            500, "Internal server error", "something went wrong on our side; it has been logged"
        )
        return _problem(request, body)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        body = problem_body(exc.status_code, str(exc.detail), str(exc.detail))
        return _problem(request, body, getattr(exc, "headers", None))
