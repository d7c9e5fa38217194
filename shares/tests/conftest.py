"""Fixtures for shares tests: ann's goals and shares, and running on-commit callbacks.

Limits kept in the cache (password attempts, kicks, slow mode) are keyed by share token,
which no two tests share, so no test sees another's.
"""

import pytest

from shares import services
from shares.models import Share
from shares.tests.factories import GoalFactory


@pytest.fixture
def run_goal(ann):
    return GoalFactory(owner=ann, title="Run 100 km", target=100)


@pytest.fixture
def read_goal(ann):
    return GoalFactory(owner=ann, title="Read 12 books", unit="books", target=12)


@pytest.fixture
def public_share(ann, run_goal, read_goal) -> Share:
    """All of ann's goals, reflections shown, comments open."""
    return services.share_create(user=ann, title="My year", show_reflections=True)


@pytest.fixture
def run_only_share(ann, run_goal) -> Share:
    """Only the running goal, no reflections."""
    return services.share_create(user=ann, title="Running", goals=[run_goal.pk])


@pytest.fixture
def password_share(ann, run_goal) -> Share:
    return services.share_create(user=ann, title="Secret", kind=Share.Kind.PASSWORD, password="open-sesame")


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs the on-commit callbacks (publishing, signals) as a real commit would."""

    def capture():
        return django_capture_on_commit_callbacks(execute=True)

    return capture
