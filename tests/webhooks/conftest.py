"""Fixtures of the webhook tests."""

from __future__ import annotations

import pytest

from tests.support.receiver import Receiver


@pytest.fixture
def receiver():
    """A local receiver that checks signatures (tests/support/receiver.py), stopped afterwards."""
    receiver = Receiver()
    yield receiver
    receiver.down()
