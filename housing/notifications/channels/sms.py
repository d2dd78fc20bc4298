"""SMS through an HTTP gateway: one channel, a gateway adapter per provider chosen by settings.

`HOUSING_NOTIFY__SMS_PROVIDER` names the adapter in `GATEWAYS` ("eskiz", see below). Another
Uzbek provider (Play Mobile, OsonSMS, ...) plugs in as one class with `send(phone, text) ->
Outcome` and one line in `GATEWAYS`; the channel around it shapes the text and stops a batch
at the first temporary failure (a gateway that is down is not called 500 times in a row).

Eskiz (notify.eskiz.uz, documented in its public Postman collection): `POST /api/auth/login`
with email and password gives a bearer token (valid about 30 days); `PATCH /api/auth/refresh`
renews it; `POST /api/message/sms/send` with `mobile_phone` (998XXXXXXXXX), `message` and
`from` queues one SMS. A 401 refreshes the token (or logs in again) and tries once more.
The token is kept for the process (`_TOKENS`), so each sender step does not log in again.
"""

import re
from collections.abc import Callable
from typing import Protocol

import requests

from housing.notifications.channels.base import SENT, Outcome, Outgoing, permanent, temporary
from housing.notifications.channels.http import http_failure
from housing.notifications.kinds import Channel
from housing.settings import NotifySettings

# A message longer than this is cut (with its link kept): about three Cyrillic SMS parts.
MAX_CHARS = 200
_SEPARATORS = re.compile(r"[\s()\-.]")
_TOKENS: dict[tuple[str, str], str] = {}  # (API address, login) -> the last bearer token it gave


class SmsGateway(Protocol):
    """One provider's HTTP API: sends one SMS and answers its outcome, never raising for the
    provider's failures."""

    def send(self, phone: str, text: str) -> Outcome: ...

    def close(self) -> None: ...


def uzbek_mobile(address: str) -> str | None:
    """The number as 998XXXXXXXXX, or None when it is not an Uzbek number (+998 and 9 digits)."""
    digits = _SEPARATORS.sub("", address).removeprefix("+")
    if len(digits) == 9:
        digits = "998" + digits
    return digits if len(digits) == 12 and digits.isascii() and digits.isdigit() and digits.startswith("998") else None  # fmt: skip


def sms_text(message: Outgoing) -> str:
    """Subject, text and link, cut to `MAX_CHARS` so that the link survives."""
    head = f"{message.subject}: {message.text}" if message.text != message.subject else message.subject
    head = " ".join(head.split())
    room = MAX_CHARS - len(message.url) - 1
    if len(head) > room:
        head = head[: max(room - 1, 0)].rstrip() + "…"
    return f"{head} {message.url}".strip()


class EskizGateway:
    """Eskiz's API with a kept HTTP session and a bearer token got on first use."""

    def __init__(self, settings: NotifySettings) -> None:
        self.base = settings.sms_api_url.rstrip("/")
        self.login = settings.sms_login or ""
        self.password = settings.sms_password.get_secret_value() if settings.sms_password else ""
        self.sender = settings.sms_sender
        self.timeout = settings.sms_timeout_s
        self.http = requests.Session()
        self.key = (self.base, self.login)
        self.token: str | None = _TOKENS.get(self.key)

    def send(self, phone: str, text: str) -> Outcome:
        number = uzbek_mobile(phone)
        if number is None:
            return permanent(f"not an Uzbek mobile number: {phone!r}")
        try:
            if self.token is None and not self._log_in():
                return temporary("the SMS gateway refused our login; check the SMS login and password")
        except requests.RequestException as exc:  # no message has left yet
            return temporary(f"SMS gateway unreachable at login: {type(exc).__name__}")
        try:
            response = self._post_sms(number, text)
            if response.status_code == 401 and self._renew():
                response = self._post_sms(number, text)
        except requests.RequestException as exc:
            return http_failure(exc, "SMS gateway")
        return _outcome(response)

    def close(self) -> None:
        self.http.close()

    def _post_sms(self, number: str, text: str) -> requests.Response:
        form = {"mobile_phone": number, "message": text, "from": self.sender}
        return self.http.post(
            f"{self.base}/api/message/sms/send",
            data=form,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout,
        )

    def _log_in(self) -> bool:
        form = {"email": self.login, "password": self.password}
        response = self.http.post(f"{self.base}/api/auth/login", data=form, timeout=self.timeout)
        return self._keep(_token(response))

    def _keep(self, token: str | None) -> bool:
        self.token = token
        if token is None:
            _TOKENS.pop(self.key, None)
        else:
            _TOKENS[self.key] = token
        return token is not None

    def _renew(self) -> bool:
        """A fresh token after a 401: refreshed when Eskiz still accepts the old one, else a new login."""
        response = self.http.patch(
            f"{self.base}/api/auth/refresh",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout,
        )
        return self._keep(_token(response)) or self._log_in()


def _token(response: requests.Response) -> str | None:
    if response.status_code != 200:
        return None
    try:
        token = response.json()["data"]["token"]
    except (ValueError, KeyError, TypeError):
        return None
    return token if isinstance(token, str) and token else None


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    message = body.get("message", body) if isinstance(body, dict) else body
    return str(message)[:200]


def _outcome(response: requests.Response) -> Outcome:
    """200 is queued by the gateway; a refused number is permanent; the rest is retried."""
    status = response.status_code
    if status == 200:
        return SENT
    reason = _reason(response)
    if status in (400, 422) and re.search(r"phone|number|raqam|номер", reason, re.IGNORECASE):
        return permanent(f"the SMS gateway refused the number: {reason}")
    retry_after = response.headers.get("Retry-After", "")
    wait = float(retry_after) if retry_after.isdigit() else None
    return temporary(f"SMS gateway answered {status}: {reason}", retry_after=wait)


# The tests' stand-in (tests/standins/sms.py) speaks Eskiz's API: "eskiz" with its URL.
GATEWAYS: dict[str, Callable[[NotifySettings], SmsGateway]] = {"eskiz": EskizGateway}


class SmsChannel:
    """The SMS channel over the gateway the settings name."""

    channel = Channel.sms

    def __init__(self, settings: NotifySettings) -> None:
        provider = (settings.sms_provider or "").lower()
        if provider not in GATEWAYS:
            raise ValueError(f"unknown SMS provider {provider!r}; known: {', '.join(sorted(GATEWAYS))}")
        self.gateway = GATEWAYS[provider](settings)
        self.rate_per_second = settings.sms_rate_per_second

    def send(self, messages: list[Outgoing]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in messages:
            outcome = self.gateway.send(message.address, sms_text(message))
            outcomes.append(outcome)
            if not outcome.sent and not outcome.permanent:  # down or throttled: the rest wait too
                rest = temporary(f"not tried: {outcome.error}", outcome.retry_after)
                outcomes += [rest] * (len(messages) - len(outcomes))
                break
        return outcomes

    def close(self) -> None:
        self.gateway.close()
