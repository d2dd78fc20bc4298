"""`/docs` (Swagger UI) and `/redoc` (ReDoc) served with no CDN and within our CSP.

The Swagger UI and ReDoc files come from the fastapi-offline package and are served under
`/static/docs/`; the pages load nothing from elsewhere and run no inline script (our CSP
allows scripts from our own origin only): Swagger UI is started by `static/api-docs.js`,
ReDoc starts itself from its `<redoc>` element. ReDoc (styled-components and its bundled
CSS) writes its styles into `<style>` elements as it loads, before any nonce option of its
could apply, so `/redoc` alone allows inline styles, and its search index runs in a worker
it makes from a blob; scripts stay our own origin's only, there as everywhere. Its sidebar loads Redocly's logo from Redocly's CDN; the file is
served with that one address pointing at the favicon beside it instead, so the page asks
nothing of another origin.
"""

from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static/docs"
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
REDOC_CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def redoc_script() -> bytes:
    """ReDoc's bundle with its one CDN address (the sidebar's logo) pointing at our favicon."""
    script = (ASSETS_DIR / "redoc.standalone.js").read_bytes()
    return script.replace(REDOC_CDN_LOGO, f"{ASSETS_URL}/favicon.png".encode())


def add_api_docs(app: FastAPI, *, openapi_url: str, csp: str) -> None:
    """Mounts the assets (before any broader /static mount) and adds the two pages; `csp` is
    the site's Content-Security-Policy, which /redoc extends by inline styles."""

    @app.get(f"{ASSETS_URL}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        return Response(
            redoc_script(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")
    title = escape(app.title)
    spec = escape(openapi_url)
    redoc_policy = f"{csp}; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:"

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(
            f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" href="{ASSETS_URL}/favicon.png">
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{spec}"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""
        )

    @app.get("/redoc", include_in_schema=False, response_class=HTMLResponse)
    def redoc() -> HTMLResponse:
        return HTMLResponse(
            headers={"Content-Security-Policy": redoc_policy},
            content=f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="{ASSETS_URL}/favicon.png">
</head>
<body>
<redoc spec-url="{spec}"></redoc>
<script src="{ASSETS_URL}/redoc.standalone.js"></script>
</body>
</html>
""",
        )
