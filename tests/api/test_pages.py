"""The login page and the per-role landing page, through plain HTTP (no JavaScript needed)."""

from housing.accounts.models import Role
from housing.auth import SESSION_COOKIE
from tests.factories.core import PASSWORD, make_user
from tests.pages import csrf_token


def test_login_page_sets_a_safe_session_cookie_and_lands_per_role(client, session):
    client.headers["accept-language"] = "en"
    make_user(session, Role.dispatcher, username="disp", company_id=_company(session))
    session.commit()
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    response = client.post(
        "/login",
        data={"username": "disp", "password": PASSWORD, "csrftoken": csrf_token(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    landing = client.get("/")
    assert "Request queue" in landing.text and "disp" in landing.text
    assert landing.headers["X-Frame-Options"] == "DENY"
    client.post("/logout", data={"csrftoken": csrf_token(landing.text)})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_shows_the_form_again_with_a_message(client, session):
    client.headers["accept-language"] = "en"
    make_user(session, Role.admin, username="boss")
    session.commit()
    page = client.get("/login")
    response = client.post(
        "/login", data={"username": "boss", "password": "nope", "csrftoken": csrf_token(page.text)}
    )
    assert response.status_code == 401
    assert "wrong user name or password" in response.text
    assert 'value="boss"' in response.text


def test_html_errors_for_browsers_json_for_api(client, db):
    browser = client.get("/no-such-page", headers={"accept": "text/html"})
    assert browser.status_code == 404 and "<html" in browser.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def _company(session) -> int:
    from tests.factories.core import make_company

    return make_company(session).id
