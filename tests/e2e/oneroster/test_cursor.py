"""OneRoster keeps offset/limit and Link headers; a next link also carries a keyset cursor, so a consumer that
follows the links walks linearly and gets exactly what the offset walk gets."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.integrators import BASE

# The UNION source (users), its role-filtered view (students), and two flat sources.
COLLECTIONS = ["users", "students", "enrollments", "classes"]


def _next(link: str) -> str | None:
    match = re.search(r'<([^>]+)>; rel="next"', link)
    return match[1] if match else None


def _walk_by_links(client, collection: str, order: str) -> tuple[list[str], list[str]]:
    url: str | None = f"{BASE}/{collection}?limit=7&orderBy={order}"
    ids, cursors = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        ids += [item["sourcedId"] for item in next(iter(response.json().values()))]
        url = _next(response.headers["link"])
        if url:
            cursors += parse_qs(urlsplit(url).query).get("after", [])
    return ids, cursors


def _walk_by_offsets(client, collection: str, order: str) -> list[str]:
    ids, offset, total = [], 0, None
    while total is None or offset < total:
        response = client.get(f"{BASE}/{collection}", params={"limit": 7, "offset": offset, "orderBy": order})
        total = int(response.headers["x-total-count"])
        ids += [item["sourcedId"] for item in next(iter(response.json().values()))]
        offset += 7
    return ids


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_following_next_links_with_their_cursor_equals_the_offset_walk(integrator_db, collection, order):
    client = integrator_db.client("network_admin")
    by_links, cursors = _walk_by_links(client, collection, order)
    by_offsets = _walk_by_offsets(client, collection, order)
    assert by_links == by_offsets and len(by_links) == len(set(by_links))
    if len(by_links) > 7:
        assert cursors, "a next link of a sourcedId walk carries its cursor"


def test_a_forged_cursor_is_a_400_naming_after(integrator_db):
    client = integrator_db.client("network_admin")
    first = client.get(f"{BASE}/users", params={"limit": 5})
    link = _next(first.headers["link"])
    assert link is not None
    response = client.get(link.replace("after=", "after=x"))
    assert response.status_code == 400
    assert response.json()["imsx_description"].startswith("after is not a cursor")


def test_a_cursor_with_another_offset_lets_the_offset_decide(integrator_db):
    client = integrator_db.client("network_admin")
    first = client.get(f"{BASE}/users", params={"limit": 5})
    cursor = parse_qs(urlsplit(_next(first.headers["link"])).query)["after"][0]
    moved = client.get(f"{BASE}/users", params={"limit": 5, "offset": 15, "after": cursor}).json()["users"]
    plain = client.get(f"{BASE}/users", params={"limit": 5, "offset": 15}).json()["users"]
    assert [u["sourcedId"] for u in moved] == [u["sourcedId"] for u in plain]
