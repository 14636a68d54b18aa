"""Deprecating a /api/v1 operation: the `Deprecation`, `Sunset` and `Link` headers, and the OpenAPI flag.

A deprecated operation keeps working until its sunset date; every answer says so (RFC 9745's
`Deprecation: @<unix time>`, RFC 8594's `Sunset: <HTTP date>`, and `Link: <successor>;
rel="successor-version"`), and the OpenAPI document marks it `deprecated`. The list of deprecations
is data (`DEPRECATIONS`), each with its changelog entry in docs/api/changelog.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import format_datetime

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Deprecated:
    """One operation on its way out: since when, until when it answers, and what replaces it."""

    since: dt.date
    sunset: dt.date
    successor: str | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        since = dt.datetime.combine(self.since, dt.time(), tzinfo=dt.UTC)
        sunset = dt.datetime.combine(self.sunset, dt.time(), tzinfo=dt.UTC)
        found = [
            (b"deprecation", f"@{int(since.timestamp())}".encode()),
            (b"sunset", format_datetime(sunset, usegmt=True).encode()),
        ]
        if self.successor:
            found.append((b"link", f'<{self.successor}>; rel="successor-version"'.encode()))
        return found


# (METHOD, route path) -> its deprecation. Empty today: nothing in /api/v1 is deprecated yet.
DEPRECATIONS: dict[tuple[str, str], Deprecated] = {}


def _pattern(path: str) -> re.Pattern[str]:
    """The route template as a regex over request paths ({name} is one path segment)."""
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")


class _DeprecationHeaders:
    """Adds the headers to every answer of a deprecated operation (matched on method and route template)."""

    def __init__(self, app: ASGIApp, deprecations: Mapping[tuple[str, str], Deprecated]) -> None:
        self.app = app
        self.routes = [(method, _pattern(path), found) for (method, path), found in deprecations.items()]

    def _find(self, method: str, path: str) -> Deprecated | None:
        return next((found for m, pattern, found in self.routes if m == method and pattern.match(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._find(scope["method"], scope["path"]) if scope["type"] == "http" and self.routes else None
        if found is None:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *found.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, deprecations: Mapping[tuple[str, str], Deprecated] | None = None) -> None:
    """Mark the deprecated operations in the OpenAPI document and add their headers to every answer.

    Raises:
        ValueError: a deprecation names an operation the app does not have (a typo would silently do nothing).
    """
    deprecations = dict(DEPRECATIONS if deprecations is None else deprecations)
    if not deprecations:
        return
    app.openapi_schema = None
    document = app.openapi()
    paths = document.get("paths", {})
    unknown = sorted(f"{m} {p}" for m, p in deprecations if m.lower() not in paths.get(p, {}))
    if unknown:
        raise ValueError(f"deprecations name operations that do not exist: {', '.join(unknown)}")
    for method, path in deprecations:
        paths[path][method.lower()]["deprecated"] = True
    app.add_middleware(_DeprecationHeaders, deprecations=deprecations)
