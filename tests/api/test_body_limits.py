"""Body size limits (housing/bodylimit.py): which limit a route has, how a refusal reads, that
it comes before the CSRF check and any parser, and that a body at its limit gets through.
The 200 MB bodies against a real server are in tests/integration/test_body_limits.py."""

import asyncio
import io
import json
import os
import re

import pytest
from PIL import Image
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from housing import bodylimit
from housing.i18n import LANGUAGE_COOKIE
from housing.settings import LimitSettings, Settings
from tests.conftest import make_settings
from tests.factories.core import PASSWORD
from tests.factories.requests import png_bytes
from tests.pages import csrf_token, log_in

KB, MB = 1024, 1024 * 1024
DEFAULTS = LimitSettings()


def test_each_kind_of_route_has_its_own_setting():
    assert (DEFAULTS.form_bytes, DEFAULTS.json_bytes, DEFAULTS.import_bytes, DEFAULTS.photo_bytes) == (
        256 * KB,
        1 * MB,
        33 * MB,
        6 * MB,
    )


def test_the_limits_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOUSING_LIMITS__FORM_BYTES", "4096")
    monkeypatch.setenv("HOUSING_LIMITS__IMPORT_BYTES", "99999999")
    limits = Settings().limits
    assert (limits.form_bytes, limits.import_bytes, limits.json_bytes) == (
        4096,
        99999999,
        DEFAULTS.json_bytes,
    )


def test_a_photo_limit_that_leaves_no_room_for_the_photo_is_refused():
    with pytest.raises(ValidationError, match="PHOTO_BYTES"):
        Settings(requests={"max_photo_bytes": 2 * MB}, limits={"photo_bytes": 2 * MB})


@pytest.mark.parametrize(
    ("path", "content_type", "kind"),
    [
        ("/api/v1/imports/buildings", "multipart/form-data; boundary=x", "import"),
        ("/api/v1/imports/meters", "multipart/form-data; boundary=x", "import"),
        ("/api/v1/imports/bank-statements", "application/json", "import"),
        ("/api/v1/imports/provider-statements", "multipart/form-data; boundary=x", "import"),
        ("/console/payments/reconciliation", "multipart/form-data; boundary=x", "import"),
        # A building's bank statement and its expenses' documents (up to 10 MB): the import's limit
        ("/api/v1/buildings/7/expenses/import", "multipart/form-data; boundary=x", "import"),
        ("/api/v1/expenses/7/documents", "multipart/form-data; boundary=x", "import"),
        ("/console/money/buildings/7/expenses", "multipart/form-data; boundary=x", "import"),
        ("/console/money/buildings/7/import", "multipart/form-data; boundary=x", "import"),
        ("/console/money/expenses/7/documents", "multipart/form-data; boundary=x", "import"),
        ("/api/v1/buildings/7/expenses", "application/json", "json"),
        # A meeting's documents, ballot scans and powers of attorney (up to 10 MB): the import's limit
        ("/api/v1/meetings/7/documents", "multipart/form-data; boundary=x", "import"),
        ("/api/v1/meetings/7/paper-ballots", "multipart/form-data; boundary=x", "import"),
        ("/api/v1/meetings/7/proxies", "multipart/form-data; boundary=x", "import"),
        ("/console/meetings/7/documents", "multipart/form-data; boundary=x", "import"),
        ("/console/meetings/7/paper-ballots", "multipart/form-data; boundary=x", "import"),
        ("/console/meetings/7/proxies", "multipart/form-data; boundary=x", "import"),
        ("/console/meetings/7/proxies/9", "application/x-www-form-urlencoded", "form"),
        ("/console/money/expenses/7/corrections", "application/x-www-form-urlencoded", "form"),
        ("/api/v1/requests/12/photos", "multipart/form-data; boundary=x", "photo"),
        ("/requests", "multipart/form-data; boundary=x", "photo"),  # the filing form, with a photo
        ("/api/v1/announcements/3/attachment", "multipart/form-data; boundary=x", "photo"),
        (
            "/console/announcements",
            "multipart/form-data; boundary=x",
            "photo",
        ),  # the posting form, with a file
        ("/api/v1/announcements", "application/json", "json"),
        ("/api/v1/requests", "application/json", "json"),
        ("/api/v1/webhooks/stripe", "application/json; charset=utf-8", "json"),
        ("/api/v1/merchant/payme", "application/json; charset=UTF-8", "json"),  # and its own smaller cap
        ("/api/v1/requests/12", "Application/Merge-Patch+JSON", "json"),
        ("/api/v1/auth/token", "application/x-www-form-urlencoded", "form"),
        ("/login", "application/x-www-form-urlencoded", "form"),
        ("/requests/12/comments", "application/x-www-form-urlencoded", "form"),
        ("/open311/v2/requests.json", "application/x-www-form-urlencoded", "form"),
        ("/api/v1/requests", "", "form"),  # no media type: the smallest limit
        ("/api/v1/requests", "text/plain", "form"),
    ],
)
def test_the_route_decides_the_limit(path, content_type, kind):
    scope = {"type": "http", "path": path, "headers": [(b"content-type", content_type.encode())]}
    assert bodylimit.route_kind(scope) == kind


# The refusal, in each of the shapes our errors take


def test_a_form_over_its_limit_gets_the_html_error_page(client, db):
    client.cookies.set(LANGUAGE_COOKIE, "en")
    answer = client.post(
        "/login",
        data={"username": "x", "password": "a" * DEFAULTS.form_bytes},
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["connection"] == "close"
    assert "The request is too large" in answer.text
    assert "A form may be at most 256 KB; this one is larger." in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


def test_the_refusal_speaks_the_visitors_language(client, db):
    client.cookies.set(LANGUAGE_COOKIE, "ru")
    answer = client.post("/login", content=b"a" * (DEFAULTS.form_bytes + 1), headers={"Accept": "text/html"})
    assert answer.status_code == 413
    assert "Форма может быть не больше 256 KB" in answer.text


def test_a_json_document_over_its_limit_is_a_problem(client, city):
    body = json.dumps({"description": "x" * DEFAULTS.json_bytes}).encode()
    answer = client.post(
        "/api/v1/requests",
        content=body,
        headers=city.headers["resident"] | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 413 and problem["limit_bytes"] == DEFAULTS.json_bytes
    assert problem["detail"] == "A JSON document may be at most 1 MB; this one is larger."


def test_an_import_over_its_limit_is_a_problem_before_the_file_is_read(client, city):
    answer = client.post(
        "/api/v1/imports/buildings",
        files={"file": ("big.csv", b"a" * DEFAULTS.import_bytes, "text/csv")},
        data={"company_id": str(city.company_a.id)},
        headers=city.headers["admin"],
    )
    assert answer.status_code == 413
    assert answer.json()["detail"] == "A file to import may be at most 33 MB; this one is larger."


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_clients_get_the_specs_error_list(client, db, fmt):
    answer = client.post(f"/open311/v2/requests.{fmt}", data={"description": "a" * DEFAULTS.form_bytes})
    assert answer.status_code == 413
    if fmt == "json":
        assert answer.json() == [
            {"code": 413, "description": "A form may be at most 256 KB; this one is larger."}
        ]
    else:
        assert "<code>413</code>" in answer.text


# Before the CSRF check, and exactly at the limit


def _noise_png(side: int) -> bytes:
    """A PNG that does not compress: random pixels, about side * side * 3 bytes."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def _login_body(token: str, size: int) -> bytes:
    fields = f"csrftoken={token}&username=nobody&password=wrong-password&pad=".encode()
    return fields + b"a" * (size - len(fields))


class TestSmallLimits:
    """Limits set small, so that bodies at them are quick to send."""

    @pytest.fixture
    def settings(self, database_url, tmp_path):
        return make_settings(
            database_url,
            requests={"photo_dir": tmp_path / "photos", "max_photo_bytes": 100 * KB},
            limits={"form_bytes": 16 * KB, "photo_bytes": 200 * KB},
        )

    @pytest.mark.parametrize(("extra", "status"), [(-1, 401), (0, 401), (1, 413)])
    def test_a_login_form_up_to_its_limit_is_read_and_one_byte_more_is_not(self, client, db, extra, status):
        client.cookies.set(LANGUAGE_COOKIE, "en")
        token = csrf_token(client.get("/login").text)
        body = _login_body(token, 16 * KB + extra)
        answer = client.post(
            "/login", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert answer.status_code == status, answer.text[:300]
        if status == 401:
            assert "wrong user name or password" in answer.text

    def test_a_filing_with_a_photo_over_the_limit_is_refused_before_the_csrf_check(self, client, city):
        assert log_in(client, "resident", PASSWORD).status_code == 200
        client.cookies.set(LANGUAGE_COOKIE, "en")
        form = {
            "place": f"apartment:{city.home.id}",
            "category_id": str(city.category.id),
            "description": "The roof leaks",
        }
        token = csrf_token(client.get("/requests/new").text)
        big = png_bytes() + b"\0" * (200 * KB)
        # Without a token the CSRF check would refuse it (403) after reading it: the size comes first.
        refused = client.post("/requests", data=form, files={"photo": ("leak.png", big, "image/png")})
        assert refused.status_code == 413
        assert "A photo with its form may be at most 200 KB" in refused.text
        # A photo over the form limit but within the photo limit passes: the route takes photos.
        fits = _noise_png(130)
        assert 16 * KB < len(fits) < 100 * KB
        filed = client.post(
            "/requests", data=form | {"csrftoken": token}, files={"photo": ("leak.png", fits, "image/png")}
        )
        assert filed.status_code == 200, re.findall(r"id=\"[a-z_]*-error\">([^<]*)", filed.text)
        assert "Your request is filed." in filed.text


# The middleware alone: chunked bodies, a Content-Length that lies, what the app made of it


def _run(app, messages: list[dict], headers: list[tuple[bytes, bytes]], limit: int = 100):
    """Runs BodyLimit around `app` with a client sending `messages`; returns what was sent back
    and how many messages the client was asked for."""
    asked = 0
    sent: list[dict] = []

    async def receive():
        nonlocal asked
        asked += 1
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    def refuse(request: Request, body: dict) -> Response:
        return JSONResponse(body, status_code=body["status"])

    limits = LimitSettings(form_bytes=1024, json_bytes=1024, import_bytes=1024, photo_bytes=1024)
    limits.form_bytes = limit
    middleware = bodylimit.BodyLimit(app, limits=limits, refuse=refuse)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "headers": headers,
        "query_string": b"",
        "app": None,
    }
    asyncio.run(middleware(scope, receive, send))
    return sent, asked


def _chunks(*sizes: int) -> list[dict]:
    return [
        {"type": "http.request", "body": b"a" * size, "more_body": i < len(sizes) - 1}
        for i, size in enumerate(sizes)
    ]


async def _echo_length(scope, receive, send):
    """An app that reads the whole body, then answers with its length."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await Response(str(len(body)))(scope, receive, send)


@pytest.fixture(autouse=False)
def plain_gettext(monkeypatch):
    monkeypatch.setattr(bodylimit, "gettext_for", lambda request: lambda text: text)


@pytest.mark.parametrize(
    ("headers", "sizes", "status", "asked"),
    [
        ([], (40, 40, 20), 200, 3),  # chunked, exactly at the limit
        ([], (40, 40, 21), 413, 3),  # chunked, one byte over: refused at the third piece
        ([], (60, 60, 60, 60), 413, 2),  # no more is read once the limit is passed
        ([(b"content-length", b"10")], (60, 60, 60), 413, 2),  # a Content-Length that lies
        ([(b"content-length", b"101")], (101,), 413, 0),  # announced too large: nothing is read
        ([(b"content-length", b"100")], (100,), 200, 1),
    ],
)
def test_the_body_is_counted_as_it_arrives(plain_gettext, headers, sizes, status, asked):
    sent, reads = _run(_echo_length, _chunks(*sizes), headers)
    assert sent[0]["status"] == status
    assert reads == asked
    if status == 413:
        assert (b"connection", b"close") in sent[0]["headers"]
        assert json.loads(sent[1]["body"])["limit_bytes"] == 100


def test_what_the_app_made_of_a_cut_body_is_replaced_by_the_refusal(plain_gettext):
    async def forgiving(scope, receive, send):
        try:
            await _echo_length(scope, receive, send)
        except Exception:
            await Response("could not parse the body", status_code=400)(scope, receive, send)

    sent, _ = _run(forgiving, _chunks(80, 80), [])
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]
