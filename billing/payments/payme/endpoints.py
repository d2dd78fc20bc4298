"""Payme's Merchant API: `POST /api/v1/merchant/payme`, always HTTP 200 with a JSON-RPC answer.

The route reads the raw body (at most `protocol.MAX_BODY_BYTES`), checks Payme's Basic
sign-in against the cashbox key, parses the call, answers it (`billing.payments.payme.service`)
and commits once, also when the answer is an error whose change must stay (a transaction
cancelled for Payme's timeout). A refusal rolls back; anything unexpected is logged, rolled
back and answered -32400, never a 5xx. Each call leaves one log line (logger
`billing.payments.payme.endpoints`) with the method, Payme's transaction id and the outcome.
"""

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from billing.models import Gateway
from billing.payments import merchant
from billing.payments.payme import protocol, schemas, service
from billing.payments.payme.protocol import Code, Error, Refused
from housing import clock
from housing.db import SessionDep
from housing.schemas import ALWAYS_200
from housing.settings import Settings

PATH = "/merchant/payme"

log = logging.getLogger(__name__)

router = APIRouter(tags=["merchant"])


async def _capped_body(request: Request) -> bytes:
    """The body as sent, read no further than one byte past the cap (the parser refuses that)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > protocol.MAX_BODY_BYTES:
                break
    except ClientDisconnect:  # nobody is left to answer
        return b""
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(_capped_body)]


@router.post(
    PATH,
    response_class=JSONResponse,
    summary="Payme's Merchant API (JSON-RPC)",
    responses={
        200: {
            "description": "Always 200: a JSON-RPC `result`, or an `error` with Payme's code",
            "content": {"application/json": {"schema": schemas.ANSWER}},
        }
    },
    openapi_extra=ALWAYS_200
    | {"requestBody": {"required": True, "content": {"application/json": {"schema": schemas.CALL}}}},
)
def payme_merchant(request: Request, session: SessionDep, body: RawBody) -> JSONResponse:
    """Payme calls this with Basic `Paycom:<cashbox key>`: CheckPerformTransaction, CreateTransaction,
    PerformTransaction, CancelTransaction, CheckTransaction and GetStatement (docs/payme.md).

    Every answer is HTTP 200; errors carry Payme's codes (-32504 for a wrong key or when Payme
    is not configured here, -32700, -32600, -32601, -31001, -31003, -31007, -31008, -31050).
    """
    settings: Settings = request.app.state.settings
    claims = protocol.claims_of(body)
    detail = ""
    try:
        call = _authorized_call(settings, request.headers.get("authorization"), body)
        outcome = service.answer_call(session, call, cashbox=cashbox_of(settings), now=clock.now())
        session.commit()  # also an error answer's change: a transaction cancelled for the timeout
    except Refused as exc:
        session.rollback()
        outcome, detail = exc.error, exc.detail
    except Exception as exc:
        session.rollback()
        log.exception("payme call failed: %s", type(exc).__name__)
        outcome, detail = Error(Code.system_error), f"{type(exc).__name__}: {str(exc)[:200]}"
    _log_call(claims, outcome, detail)
    return JSONResponse(protocol.answer(claims.request_id, outcome))


def _authorized_call(settings: Settings, authorization: str | None, body: bytes) -> protocol.Call:
    protocol.check_size(body)  # too large is too large, signed in or not
    payme = settings.payme
    if not payme.configured or payme.key is None:
        raise Refused(
            Code.insufficient_privileges,
            "HOUSING_PAYME__MERCHANT_ID, HOUSING_PAYME__KEY",
            detail="payme is not configured",
            message=protocol.NOT_CONFIGURED,
        )
    if not protocol.authorized(authorization, payme.key.get_secret_value()):
        raise Refused(Code.insufficient_privileges, detail="wrong or missing authorization")
    return protocol.parse_call(body, account_field=payme.account_field)


def cashbox_of(settings: Settings) -> service.Cashbox:
    return service.Cashbox(
        account_field=settings.payme.account_field,
        limits=merchant.limits_of(settings, Gateway.payme),
        checkout_hours=settings.reconcile.abandon_checkout_hours,
    )


def _log_call(claims: protocol.Claims, outcome: dict[str, Any] | Error, detail: str) -> None:
    """One line per call, key=value with JSON-quoted strings (a hostile value stays on its line).

    The method and transaction are what the body says, also when the call was refused.
    """
    code = outcome.code if isinstance(outcome, Error) else 0
    fields = {
        "method": claims.method,
        "transaction": claims.transaction,
        "outcome": "error" if code else "result",
        "code": int(code),
        "detail": detail,
    }
    if code == Code.system_error:
        level = logging.ERROR
    elif code and code <= Code.not_post:  # the call itself is wrong: worth an operator's look
        level = logging.WARNING
    else:
        level = logging.INFO
    log.log(level, "payme call %s", " ".join(f"{k}={json.dumps(v)}" for k, v in fields.items()), extra=fields)


def refusal(status: int) -> JSONResponse:
    """Payme's answer for what the app refuses before the route runs (the body limit, not POST)."""
    code = {405: Code.not_post, 413: Code.invalid_request}.get(status, Code.system_error)
    if 400 <= status < 500 and code is Code.system_error:
        code = Code.invalid_request
    data = "body" if status == 413 else None
    log.warning("payme call refused before the route: HTTP %s answered %s", status, int(code))
    return JSONResponse(protocol.answer(None, Error(code, data)))
