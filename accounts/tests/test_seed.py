from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts import selectors
from accounts.models import Follow, User

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple]:
    users = User.objects.order_by("username").values_list("username", "display_name", "password", "is_superuser")
    follows = Follow.objects.order_by("pk").values_list("pk", "follower__username", "followee__username")
    return [*users, *follows]


def test_seed_demo_creates_friends_and_admin(sent_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = seed()

    users = {user.username: user for user in User.objects.all()}
    assert set(users) == {"ann", "ben", "cat", "admin"}
    assert [users[name].display_name for name in ["ann", "ben", "cat"]] == ["Ann", "Ben", "Cat"]
    for name in ["ann", "ben", "cat", "admin"]:
        assert users[name].check_password("demo-pass-123")
        assert f"{name} / demo-pass-123" in output
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not users["ann"].is_staff
    assert [u.username for u in selectors.friends_of(users["ann"])] == ["ben", "cat"]
    assert [u.username for u in selectors.friends_of(users["cat"])] == ["ann", "ben"]
    assert Follow.objects.count() == 6
    # The follows went through the service: other apps heard about them.
    assert [name for name, _ in sent_signals].count("user_followed") == 6
    assert [name for name, _ in sent_signals].count("friendship_formed") == 3


def test_seed_demo_twice_changes_nothing():
    seed()
    before = snapshot()

    output = seed("--password", "another-pass-456")

    assert snapshot() == before
    assert output.count("exists, password unchanged") == 4


def test_seed_demo_takes_a_password():
    seed("--password", "another-pass-456")

    assert User.objects.get(username="ben").check_password("another-pass-456")
    assert User.objects.get(username="admin").check_password("another-pass-456")


def test_seed_demo_completes_a_partial_seed(ann):
    # `ann` exists already (with another password), as after a manual setup.
    seed()

    ann.refresh_from_db()
    assert not ann.check_password("demo-pass-123")
    assert [u.username for u in selectors.friends_of(ann)] == ["ben", "cat"]


def test_seed_demo_reports_weak_password():
    with pytest.raises(CommandError, match="password"):
        seed("--password", "123")

    assert not User.objects.exists()
