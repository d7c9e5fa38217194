"""Project-wide pytest setup: the realtime test tools, people, friendships and clients."""

import os
from collections.abc import Callable
from typing import Any

import pytest
import pytest_asyncio

pytest_plugins = ["realtime.testing"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Sync Playwright leaves an event loop behind that breaks later asyncio tests: run browser tests last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def api_client():
    """A REST client that is not signed in."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def api_client_as() -> Callable[[Any], Any]:
    """`api_client_as(user)`: a REST client sending a real JWT access token (a new client per call)."""
    from rest_framework.test import APIClient

    from realtime.testing import token_for

    def authenticate(user: Any) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return authenticate


@pytest.fixture
def page_client_as() -> Callable[[Any], Any]:
    """`page_client_as(user)`: a Django test client signed in by the session cookie, for pages."""
    from django.test import Client

    def sign_in(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return sign_in


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis: REDIS_URL, else the local default; skipped without one, except in CI."""
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except redis.RedisError as error:
        if running_in_ci():
            pytest.fail(f"Redis at {url} is unreachable in CI: {error}")
        pytest.skip(f"Redis at {url} is unreachable: {error}")
    return url


@pytest.fixture(scope="session", autouse=True)
def _release_test_database(django_db_setup, django_db_blocker):
    """Async transactional tests leave a connection in a context the teardown cannot close;
    PostgreSQL refuses to drop a database in use, so end those sessions first."""
    yield
    from django.db import connection, connections

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        connections.close_all()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.7 s per user here; hashing itself is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_throttles():
    """REST throttles count requests in the cache (per user, address or account name, all
    test users look alike): each test starts with nothing counted. On Redis only the
    throttles' keys go, so what other processes keep there stays."""
    from django.core.cache import cache

    backend = getattr(cache, "_cache", None)
    if hasattr(backend, "get_client"):  # django.core.cache.backends.redis.RedisCache
        client = backend.get_client(write=True)  # type: ignore[union-attr]
        keys = list(client.scan_iter(match=cache.make_key("throttle_*"), count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest_asyncio.fixture(autouse=True)
async def fresh_hub():
    """Each async test runs on its own event loop; the next one must start its own realtime hub."""
    yield
    from realtime.hub import stop_hub
    from realtime.transport_http import stop_sessions

    await stop_sessions()  # HTTP transport sessions leave their topics through the hub
    await stop_hub()


def _user(username: str):
    from accounts.tests.factories import UserFactory

    return UserFactory(username=username, display_name=username.title())


@pytest.fixture
def ann(db):
    return _user("ann")


@pytest.fixture
def ben(db):
    return _user("ben")


@pytest.fixture
def cat(db):
    return _user("cat")


@pytest.fixture
def friends(ann, ben):
    """Ann and Ben follow each other."""
    from accounts.tests.factories import make_friends

    make_friends(ann, ben)
