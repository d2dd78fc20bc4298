"""The OpenAPI description of Payme's calls and our answers (JSON Schema, for the docs and the fuzzer).

The route reads the raw body itself (`billing.payments.payme.protocol` checks it), so these
schemas describe the wire and validate nothing: whatever arrives is answered with HTTP 200.
The account object's key is the setting HOUSING_PAYME__ACCOUNT_FIELD.
"""

from typing import Any

from billing.payments.payme.protocol import (
    EARLIEST,
    LATEST,
    MAX_ACCOUNT_LENGTH,
    MAX_ID_LENGTH,
    Code,
    Method,
    Reason,
    State,
    to_ms,
)
from housing.validation import MONEY_MAX

_MS = {"type": "integer", "minimum": to_ms(EARLIEST), "maximum": to_ms(LATEST)}
_ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": "^[!-~]+$"}
_STATE = {"type": "integer", "enum": [int(s) for s in State]}
_TEXT = {"type": "string"}

CALL: dict[str, Any] = {
    "type": "object",
    "required": ["id", "method", "params"],
    "properties": {
        "jsonrpc": {"type": "string", "enum": ["2.0"]},
        "id": {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": MAX_ID_LENGTH}]},
        "method": {"type": "string", "enum": [m.value for m in Method]},
        "params": {
            "type": "object",
            "description": "Each method's own: see docs/payme.md",
            "properties": {
                "id": _ID | {"description": "Payme's transaction id"},
                "time": _MS | {"description": "When Payme made the transaction (ms since 1970)"},
                "amount": {"type": "integer", "minimum": 1, "maximum": MONEY_MAX, "description": "tiyin"},
                "account": {
                    "type": "object",
                    "description": "The personal account under the configured account field",
                    "additionalProperties": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_ACCOUNT_LENGTH,
                    },
                },
                "reason": {"type": "integer", "enum": [int(r) for r in Reason]},
                "from": _MS,
                "to": _MS,
            },
        },
    },
}

_TRANSACTION = {
    "create_time": {"type": "integer"},
    "perform_time": {"type": "integer"},
    "cancel_time": {"type": "integer"},
    "transaction": _TEXT,
    "state": _STATE,
    "reason": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
}


def _result(*names: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(names),
        "properties": {n: _TRANSACTION[n] for n in names} | extra,
    }


RESULT: dict[str, Any] = {
    "anyOf": [
        {"type": "object", "required": ["allow"], "properties": {"allow": {"type": "boolean"}}},
        _result("create_time", "transaction", "state"),
        _result("transaction", "perform_time", "state"),
        _result("transaction", "cancel_time", "state"),
        _result("create_time", "perform_time", "cancel_time", "transaction", "state", "reason"),
        {
            "type": "object",
            "required": ["transactions"],
            "properties": {
                "transactions": {
                    "type": "array",
                    "items": _result(
                        "create_time",
                        "perform_time",
                        "cancel_time",
                        "transaction",
                        "state",
                        "reason",
                        id=_TEXT,
                        time={"type": "integer"},
                        amount={"type": "integer"},
                        account={"type": "object", "additionalProperties": _TEXT},
                        receivers={"type": "null"},
                    ),
                }
            },
        },
    ]
}

ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "data"],
    "properties": {
        "code": {"type": "integer", "enum": [int(c) for c in Code]},
        "message": {
            "type": "object",
            "required": ["ru", "uz", "en"],
            "properties": {"ru": _TEXT, "uz": _TEXT, "en": _TEXT},
        },
        "data": {"anyOf": [_TEXT, {"type": "null"}], "description": "The field the error is about"},
    },
}

ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["jsonrpc", "id"],
    "properties": {
        "jsonrpc": {"type": "string", "enum": ["2.0"]},
        "id": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        "result": RESULT,
        "error": ERROR,
    },
    "oneOf": [{"required": ["result"]}, {"required": ["error"]}],
}
