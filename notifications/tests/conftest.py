"""Fixtures for notifications tests."""

import pytest


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs the on-commit callbacks (signals, publishing) as a real commit would."""

    def capture():
        return django_capture_on_commit_callbacks(execute=True)

    return capture
