"""/docs (Swagger UI) and /redoc from assets installed with the package: no CDN, so they work offline.

The JavaScript and CSS are the builds that `fastapi-offline` ships (Swagger UI and ReDoc, MIT); the
pages and the Swagger UI start-up script are ours, so that the pages need no inline script and run
under a Content-Security-Policy of 'self' only.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

VENDORED = Path(fastapi_offline.__file__).parent / "static"
OURS = Path(__file__).parent / "static"
ASSETS = "/docs-assets"
# The pages load nothing but this server's own files (the OpenAPI document included); images may be data: URIs.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="icon" href="{ASSETS}/vendor/favicon.png">{head}</head>'
        f"<body>{body}</body></html>\n"
    )
    return HTMLResponse(html, headers=HEADERS)


def install(app: FastAPI) -> None:
    """Serve /docs, /docs/oauth2-redirect and /redoc from local assets (create the app with docs_url=None)."""
    title = app.title
    app.mount(f"{ASSETS}/vendor", StaticFiles(directory=VENDORED), name="docs-vendor")
    app.mount(ASSETS, StaticFiles(directory=OURS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        head = f'<link rel="stylesheet" href="{ASSETS}/vendor/swagger-ui.css">'
        body = (
            '<div id="swagger-ui" data-openapi-url="/openapi.json"></div>'
            f'<script src="{ASSETS}/vendor/swagger-ui-bundle.js"></script>'
            f'<script src="{ASSETS}/swagger-init.js"></script>'
        )
        return _page(f"{title}: REST API (Swagger UI)", head, body)

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_oauth2_redirect() -> HTMLResponse:
        return _page(f"{title}: signing in", "", f'<script src="{ASSETS}/swagger-oauth2-redirect.js"></script>')

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        body = f'<redoc spec-url="/openapi.json"></redoc><script src="{ASSETS}/vendor/redoc.standalone.js"></script>'
        return _page(f"{title}: REST API (ReDoc)", "", body)
