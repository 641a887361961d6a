"""Fixtures every cloud source's tests share."""

from __future__ import annotations

import pytest

from tests.cloud.fake_api import record_waits


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's backoff waits, recorded instead of slept."""
    return record_waits(monkeypatch)
