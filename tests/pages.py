"""What a browser does with our forms, for TestClient page tests: read the CSRF token, post it back."""

import re

from fastapi.testclient import TestClient

TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def submit(client: TestClient, page_url: str, action: str, data: dict, **kw):
    """Opens the page, then posts its form to `action` with the page's token, like a browser."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrftoken": csrf_token(page.text), **data}, **kw)


def log_in(client: TestClient, username: str, password: str):
    return submit(client, "/login", "/login", {"username": username, "password": password})
