"""A stand-in for Eskiz's SMS API (notify.eskiz.uz), from its public docs: only what we call.

- `POST /api/auth/login` (form: email, password) -> `{"message": "token_generated",
  "data": {"token": ...}, "token_type": "bearer"}`, 401 for other credentials;
- `PATCH /api/auth/refresh` (bearer) -> a new token, 401 for a token it never issued or revoked;
- `POST /api/message/sms/send` (bearer; form: mobile_phone, message, from) ->
  `{"id": ..., "message": "Waiting for SMS provider", "status": "waiting"}`, 401 without a
  valid token, 400 naming the phone for a number the network does not know.

Faults on demand: `answer_next(status, n, retry_after=)` answers the next n sends so;
`expire_tokens()` makes current tokens expire (refreshable), `revoke_tokens()` unusable;
`hold_next()` keeps the next send waiting (a slow gateway) until the event it returns is set.
"""

import secrets
import threading
import uuid
from dataclasses import dataclass, field

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

EMAIL = "notify@example.uz"
PASSWORD = "standin-secret"


@dataclass
class SmsGatewayState:
    email: str = EMAIL
    password: str = PASSWORD
    valid: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    unknown_numbers: set[str] = field(default_factory=set)
    sent: list[dict] = field(default_factory=list)
    logins: int = 0
    refreshes: int = 0
    faults: list[tuple[int, str | None]] = field(default_factory=list)
    holds: list[threading.Event] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def answer_next(self, status: int, count: int = 1, *, retry_after: int | None = None) -> None:
        with self.lock:
            self.faults += [(status, str(retry_after) if retry_after is not None else None)] * count

    def hold_next(self) -> threading.Event:
        release = threading.Event()
        with self.lock:
            self.holds.append(release)
        return release

    def expire_tokens(self) -> None:
        with self.lock:
            self.expired |= self.valid
            self.valid.clear()

    def revoke_tokens(self) -> None:
        with self.lock:
            self.valid.clear()
            self.expired.clear()

    def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        """The messages received once there are at least `count`; fails after `timeout` seconds."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.sent) >= count, timeout=timeout):
                raise AssertionError(f"{len(self.sent)} SMS arrived, expected {count}")
            return list(self.sent)


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def sms_gateway_app(state: SmsGatewayState) -> FastAPI:
    app = FastAPI()

    def issue() -> str:
        token = secrets.token_urlsafe(16)
        state.valid.add(token)
        return token

    @app.post("/api/auth/login")
    async def login(request: Request):
        form = await request.form()
        with state.lock:
            state.logins += 1
            if form.get("email") != state.email or form.get("password") != state.password:
                return JSONResponse({"message": "Invalid credentials"}, status_code=401)
            return {"message": "token_generated", "data": {"token": issue()}, "token_type": "bearer"}

    @app.patch("/api/auth/refresh")
    def refresh(request: Request):
        token = _bearer(request)
        with state.lock:
            state.refreshes += 1
            if token not in state.valid and token not in state.expired:
                return JSONResponse({"message": "Unauthenticated."}, status_code=401)
            state.valid.discard(token)
            state.expired.discard(token)
            return {"message": "token_generated", "data": {"token": issue()}, "token_type": "bearer"}

    @app.post("/api/message/sms/send")
    async def send(request: Request):
        form = await request.form()
        with state.lock:
            hold = state.holds.pop(0) if state.holds else None
        if hold is not None:
            await to_thread.run_sync(hold.wait, 30)
        with state.arrived:
            if _bearer(request) not in state.valid:
                return JSONResponse({"message": "Expired"}, status_code=401)
            if state.faults:
                status, retry_after = state.faults.pop(0)
                headers = {"Retry-After": retry_after} if retry_after else {}
                return JSONResponse({"message": "Server error"}, status_code=status, headers=headers)
            phone = str(form.get("mobile_phone", ""))
            if phone in state.unknown_numbers or not (phone.isdigit() and len(phone) == 12):
                return JSONResponse(
                    {"status": "error", "message": f"Invalid mobile phone number: {phone}"}, status_code=400
                )
            state.sent.append(
                {"mobile_phone": phone, "message": form.get("message"), "from": form.get("from")}
            )
            state.arrived.notify_all()
            return {"id": str(uuid.uuid4()), "message": "Waiting for SMS provider", "status": "waiting"}

    return app
