"""Fixtures for realtime tests: a topic handler registered by the tests themselves."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from realtime import registry
from realtime.tests.topics import EchoHandler


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
