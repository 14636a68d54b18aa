"""Fixtures: a billing world on each engine, and a fake gateway installed for the test's duration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from domain.billing.gateway import install_gateway
from tests.integration.billing.support import FakeGateway, World, build_world


@pytest.fixture()
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture()
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    install_gateway(fake)
    try:
        yield fake
    finally:
        install_gateway(None)
