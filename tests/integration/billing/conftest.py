"""Fixtures: a billing world on each engine, and a fake gateway the test hands to the charges it makes."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.integration.billing.support import FakeGateway, World, build_world


@pytest.fixture()
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture()
def gateway() -> FakeGateway:
    return FakeGateway()
