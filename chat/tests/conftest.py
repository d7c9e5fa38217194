"""Fixtures for chat tests: people, friendships, channels and a recorder of published events."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.tests.factories import FollowFactory, UserFactory
from chat import services
from chat.models import MODERATORS_GROUP, Channel, Membership
from chat.tests.factories import ChannelFactory, MembershipFactory


def make_friends(a: User, b: User) -> None:
    FollowFactory(follower=a, followee=b)
    FollowFactory(follower=b, followee=a)


def make_moderator(user: User) -> User:
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def join(user: User, channel: Channel, role: str = Membership.Role.MEMBER) -> Membership:
    return MembershipFactory(channel=channel, user=user, role=role)


@pytest.fixture
def mod(db):
    return make_moderator(UserFactory(username="mod", display_name="Mod"))


@pytest.fixture
def friends(ann, ben):
    make_friends(ann, ben)


@pytest.fixture
def general(ann, ben):
    """A public channel with ann (admin) and ben (member)."""
    channel = ChannelFactory(name="General", slug="general", created_by=ann)
    join(ann, channel, Membership.Role.ADMIN)
    join(ben, channel)
    return channel


@pytest.fixture
def secret(ann):
    """A private channel with ann as its only (admin) member."""
    channel = ChannelFactory(name="Secret", slug="secret", is_private=True, created_by=ann)
    join(ann, channel, Membership.Role.ADMIN)
    return channel


@pytest.fixture
def client_as():
    """An APIClient authenticated as `user` with a real JWT access token (a new client per call)."""

    def authenticate(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    return authenticate


class Published:
    """Every event the chat services published, as (topic, event, payload, replayable)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any, bool]] = []

    def of(self, topic: str | None = None, event: str | None = None) -> list[Any]:
        return [
            payload
            for t, e, payload, _ in self.events
            if (topic is None or t == topic) and (event is None or e == event)
        ]

    def names(self) -> list[tuple[str, str]]:
        return [(topic, event) for topic, event, _, _ in self.events]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
def published(monkeypatch):
    """Records chat's publishes (still publishing them) and treats everyone as online,
    so the `unread` and `presence` events meant for connected users are sent."""
    recorder = Published()
    original = services.publish

    def record(topic: str, event: str, payload: Any, **kwargs: Any) -> int | None:
        seen: dict[str, Any] = {}

        def capture(seq: int) -> Any:
            seen["payload"] = payload(seq) if callable(payload) else payload
            return seen["payload"]

        result = original(topic, event, capture if callable(payload) else payload, **kwargs)
        recorder.events.append((topic, event, seen.get("payload", payload), bool(kwargs.get("replayable"))))
        return result

    monkeypatch.setattr(services, "publish", record)
    monkeypatch.setattr(services, "online_user_ids", lambda ids: set(ids))
    return recorder


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs the on-commit callbacks (publishing) as a real commit would."""

    def capture():
        return django_capture_on_commit_callbacks(execute=True)

    return capture
