"""Project-wide pytest setup."""

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Sync Playwright leaves an event loop behind that breaks later asyncio tests: run browser tests last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
