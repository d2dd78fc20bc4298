"""/docs and /redoc without a browser: our own assets, no inline script, and the CSP they get.
tests/e2e/test_api_docs.py opens them in Chromium."""

import re

import pytest

from housing.app import content_security_policy


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_pages_load_only_our_files_and_run_no_inline_script(client, db, path):
    page = client.get(path)
    assert page.status_code == 200
    scripts = _scripts(page.text)
    assert scripts and all(body.strip() == "" for _, body in scripts)
    sources = re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]+)"', page.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        answer = client.get(source)
        assert answer.status_code == 200, source
    assert "/api/v1/openapi.json" in sources


def test_swagger_ui_gets_the_sites_policy_unchanged(client, settings, db):
    assert client.get("/docs").headers["content-security-policy"] == content_security_policy(settings)


def test_redoc_may_add_styles_and_its_search_worker_but_no_script(client, settings, db):
    policy = client.get("/redoc").headers["content-security-policy"]
    site = content_security_policy(settings)
    assert policy == f"{site}; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
    assert "script-src 'self';" in policy


def test_the_redoc_bundle_asks_nothing_of_another_origin(client, db):
    bundle = client.get("/static/docs/redoc.standalone.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert re.findall(rb"https://cdn[^\"']*", bundle.content) == []
    assert b"/static/docs/favicon.png" in bundle.content


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/static/docs/swagger-ui-bundle.js", "text/javascript"), ("/static/docs/swagger-ui.css", "text/css")],
)
def test_the_swagger_ui_files_are_served_under_our_static_path(client, db, path, media_type):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media_type)
    assert client.get("/static/housing.css").status_code == 200  # our own files are still there
