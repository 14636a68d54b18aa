"""#20 "Docs that work offline": /docs and /redoc render in a real browser from this server's files alone.

Every request the page makes to anything but the server itself is aborted and recorded, so a page
that still reached for a CDN would fail here (and, through the page fixture, any CSP violation too).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def offline(page, server_url: str) -> list[str]:
    """Abort every request that leaves the server; return the list of what was tried."""
    ours = urlsplit(server_url).netloc
    tried: list[str] = []

    def route(route) -> None:
        if urlsplit(route.request.url).netloc == ours or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            tried.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return tried


def test_swagger_ui_renders_every_route_group_without_leaving_the_server(page, live_server):
    tried = offline(page, live_server.url)
    page.goto(f"{live_server.url}/docs")
    page.locator(".opblock-tag").first.wait_for(timeout=30_000)
    tags = {t.strip() for t in page.locator(".opblock-tag").all_inner_texts()}
    assert any("SIS REST v1" in t for t in tags), tags
    assert page.locator('.opblock-summary-path[data-path="/api/v1/students"]').count() >= 1
    assert tried == [], f"the page reached outside the server: {tried}"


# ReDoc's sidebar always asks for its maker's logo from a CDN and removes the image when it fails
# (its own onError); the page's CSP blocks it, which is the one console error this page may log.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_redoc_renders_without_leaving_the_server(browser, live_server):
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        tried = offline(page, live_server.url)
        page.goto(f"{live_server.url}/redoc")
        page.get_by_text("/api/v1/students", exact=False).first.wait_for(timeout=60_000)
        assert "SIS server" in page.locator("h1").first.inner_text()
    finally:
        context.close()
    assert tried == [], f"the page reached outside the server: {tried}"
    assert [p for p in problems if REDOC_LOGO not in p] == []
