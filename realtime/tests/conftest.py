"""Fixtures for realtime tests: a topic handler registered by the tests themselves."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from realtime import registry, testing
from realtime.tests.topics import EchoHandler

# The protocol test suite: every test in these modules runs on both transports.
PROTOCOL_MODULES = {"test_consumer", "test_contract", "test_failure_paths", "test_publish_many", "test_resume_presence"}


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rsplit(".", 1)[-1] in PROTOCOL_MODULES:
        metafunc.parametrize("transport", ["websocket", "http"], indirect=True)


@pytest.fixture(autouse=True)
def transport(request):
    """The transport `open_client()` uses in this test ("websocket" unless parametrised)."""
    testing.TRANSPORT = getattr(request, "param", "websocket")
    yield testing.TRANSPORT
    testing.TRANSPORT = "websocket"


@pytest.fixture(autouse=True)
def echo_handler():
    handler = EchoHandler()
    registry.register(handler)
    yield handler
    registry.unregister("test")


@pytest.fixture
def make_user():
    """`await make_user("ann")`: a user named ann, shown as "Ann"."""

    def make(username: str = "ann") -> object:
        return get_user_model().objects.create_user(
            username=username, password="pw-123456789", display_name=username.title()
        )

    return database_sync_to_async(make)
