"""Click's SHOP-API: POST /api/v1/merchant/click/prepare and /complete (docs/click.md).

Click reads only its own answers, so every call is answered 200 with Click's JSON, whatever
it carries: a bad signature (-1), a body that is not a Click call (-8, also one larger than
MAX_BODY_BYTES), a server without Click settings (-1: nothing can be verified), and any
failure of ours (logged, rolled back, -7 "Failed to update user"). Each route owns its
transaction and commits once at its edge, only when the call changed the books (a Prepare
that opened, a Complete that performed or cancelled), so no failure, not even one at commit,
escapes as a 5xx. One log line per call (logger `billing.payments.click.endpoints`).
"""

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from billing.models import Gateway
from billing.payments.click import protocol, service
from billing.payments.click.protocol import Action, ClickError, CompleteAnswer, PrepareAnswer, Refused
from billing.payments.click.service import Outcome
from billing.payments.merchant import limits_of
from housing import clock
from housing.schemas import PROVIDER_ANSWERS
from housing.settings import Settings

PREFIX = "/merchant/click"
MAX_BODY_BYTES = 16 * 1024  # a Click call is about 400 bytes

log = logging.getLogger(__name__)

router = APIRouter(prefix=PREFIX, tags=["merchant"])


@dataclass(frozen=True, slots=True)
class Received:
    """The form's fields, or why there is no form to read."""

    fields: dict[str, str]
    refused: Refused | None = None


async def _received(request: Request) -> Received:
    """The posted form, read up to MAX_BODY_BYTES: url-encoded (as Click posts it) or multipart."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return Received(
                {}, Refused(ClickError.bad_request, f"the body is larger than {MAX_BODY_BYTES} bytes")
            )
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if media_type == "multipart/form-data":
            return Received(await _multipart(request, body))
        return Received(protocol.parse_form(body))
    except Refused as exc:
        return Received({}, exc)


async def _multipart(request: Request, body: bytes) -> dict[str, str]:
    async def stream() -> AsyncIterator[bytes]:
        yield body

    try:
        form = await MultiPartParser(
            request.headers, stream(), max_files=0, max_fields=protocol.MAX_FIELDS
        ).parse()
    except (MultiPartException, UnicodeDecodeError, ValueError) as exc:
        raise Refused(ClickError.bad_request, "the body is not a multipart form of text fields") from exc
    if any(isinstance(value, UploadFile) for _, value in form.multi_items()):
        raise Refused(ClickError.bad_request, "a Click call carries no files")
    return protocol.fields_of([(name, str(value)) for name, value in form.multi_items()])


ReceivedForm = Annotated[Received, Depends(_received)]


def _form_body(route: Action) -> dict[str, Any]:
    """The form Click posts, for the OpenAPI document (and the fuzzer that reads it)."""
    digits = {"type": "string", "pattern": "^[0-9]{1,19}$"}
    properties: dict[str, Any] = {
        "click_trans_id": digits | {"description": "Click's transaction id: our key for the payment"},
        "service_id": digits | {"description": "Our service id at Click (HOUSING_CLICK__SERVICE_ID)"},
        "click_paydoc_id": digits | {"description": "Click's payment number, shown to the payer"},
        "merchant_trans_id": {"type": "string", "description": "The personal account number"},
        "amount": {
            "type": "string",
            "pattern": r"^[0-9]{1,13}(\.[0-9]{1,2})?$",
            "description": "Som, with at most 2 decimals",
        },
        "action": {"type": "string", "enum": [str(int(route))], "description": f"{int(route)}: {route.name}"},
        "error": {
            "type": "string",
            "pattern": "^-?[0-9]{1,9}$",
            "description": "Click's status; below 0 cancels",
        },
        "error_note": {"type": "string", "description": "Click's note on its status"},
        "sign_time": {
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
            "description": "YYYY-MM-DD HH:MM:SS, the city's time",
        },
        "sign_string": {"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "md5 signature"},
    }
    required = list(protocol.REQUIRED)
    if route is Action.complete:
        properties["merchant_prepare_id"] = digits | {"description": "Our payment's id from the Prepare"}
        required += ["merchant_prepare_id", "error"]
    return {
        PROVIDER_ANSWERS: True,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": properties, "required": required}
                }
            },
        },
    }


@router.post("/prepare", response_model=PrepareAnswer, openapi_extra=_form_body(Action.prepare))
def click_prepare(request: Request, received: ReceivedForm) -> PrepareAnswer:
    """Click's Prepare (action 0): checks the account and amount and opens the payment.

    Always 200 with Click's answer; merchant_prepare_id is our payment's id. The same
    click_trans_id again gets the same merchant_prepare_id (-4 once paid, -9 once cancelled).
    """
    return _answer(request, Action.prepare, received)  # type: ignore[return-value]


@router.post("/complete", response_model=CompleteAnswer, openapi_extra=_form_body(Action.complete))
def click_complete(request: Request, received: ReceivedForm) -> CompleteAnswer:
    """Click's Complete (action 1): performs the prepared payment, or cancels it when Click's error < 0.

    Always 200 with Click's answer; merchant_confirm_id is our payment's id. A repeated
    Complete answers the same success and books nothing twice.
    """
    return _answer(request, Action.complete, received)  # type: ignore[return-value]


def _answer(request: Request, route: Action, received: Received) -> PrepareAnswer | CompleteAnswer:
    settings: Settings = request.app.state.settings
    fields = received.fields
    try:
        if received.refused is not None:
            raise received.refused
        if not settings.click.configured:
            raise Refused(ClickError.sign_check_failed, "Click is not configured on this server")
        secret = settings.click.secret_key.get_secret_value()  # type: ignore[union-attr]
        call = protocol.read_call(
            fields, route=route, service_id=settings.click.service_id or "", secret_key=secret
        )
        outcome = _apply(request.app.state.engine, settings, call)
    except Refused as exc:
        outcome = Outcome(exc.error, exc.detail)
    except Exception as exc:  # ours, not Click's: logged and answered -7, never a 5xx
        log.exception("click %s failed: %s", route.name, type(exc).__name__)
        outcome = Outcome(ClickError.failed_to_update_user, "the payment could not be recorded; try again")
    _log_call(route, fields, outcome)
    trans_id, account = protocol.echo(fields)
    build = protocol.prepare_answer if route is Action.prepare else protocol.complete_answer
    return build(trans_id, account, outcome.error, payment_id=outcome.payment_id, detail=outcome.detail)


def _apply(engine: Engine, settings: Settings, call: protocol.Call) -> Outcome:
    """The call on our books in one transaction, committed only when it changed them."""
    with Session(engine, expire_on_commit=False) as session:
        if call.action is Action.prepare:
            outcome = service.prepare(
                session,
                call,
                limits=limits_of(settings, Gateway.click),
                timezone=settings.timezone,
                now=clock.now(),
                checkout_hours=settings.reconcile.abandon_checkout_hours,
            )
        else:
            outcome = service.complete(session, call, now=clock.now())
        if outcome.changed:
            session.commit()
        else:
            session.rollback()
    return outcome


def _log_call(route: Action, fields: dict[str, str], outcome: Outcome) -> None:
    """One line per call, key=value with JSON-quoted strings (so a hostile value stays on its line)."""
    values = {
        "click_trans_id": fields.get("click_trans_id", "")[:40],
        "click_paydoc_id": fields.get("click_paydoc_id", "")[:40],
        "merchant_trans_id": fields.get("merchant_trans_id", "")[:40],
        "amount": fields.get("amount", "")[:40],
        "click_error": fields.get("error", "")[:20],
        "answer": int(outcome.error),
        "detail": outcome.detail[:300],
        "payment_id": outcome.payment_id,
    }
    level = (
        logging.WARNING
        if outcome.error in (ClickError.sign_check_failed, ClickError.bad_request)
        else logging.INFO
    )
    log.log(
        level,
        "click %s %s",
        route.name,
        " ".join(f"{key}={json.dumps(value)}" for key, value in values.items()),
        extra={
            "click_action": route.name,
            "click_answer": int(outcome.error),
            "payment_id": outcome.payment_id,
        },
    )


def answers_before_the_route(api_prefix: str) -> dict[str, Callable[[str], Response]]:
    """Click's answer (-8) to a call refused before its route runs (a body over the size limit),
    by path: Click reads nothing else."""

    def refusal(route: Action) -> Callable[[str], Response]:
        def answer(detail: str) -> Response:
            _log_call(route, {}, Outcome(ClickError.bad_request, detail))
            build = protocol.prepare_answer if route is Action.prepare else protocol.complete_answer
            return JSONResponse(build(None, None, ClickError.bad_request, detail=detail).model_dump())

        return answer

    return {
        f"{api_prefix}{PREFIX}/prepare": refusal(Action.prepare),
        f"{api_prefix}{PREFIX}/complete": refusal(Action.complete),
    }
