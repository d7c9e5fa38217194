"""Fixtures for realtime tests: a topic handler registered by the tests themselves."""

import pytest

from realtime import registry
from realtime.tests.topics import EchoHandler


@pytest.fixture(autouse=True)
def echo_handler():
    handler = EchoHandler()
    registry.register(handler)
    yield handler
    registry.unregister("test")
