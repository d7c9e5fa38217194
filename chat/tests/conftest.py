"""Fixtures for chat tests: moderators, channels with members, and running on-commit callbacks."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import MODERATORS_GROUP, User
from accounts.tests.factories import UserFactory
from chat.models import Channel, Membership
from chat.tests.factories import ChannelFactory, MembershipFactory


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
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs the on-commit callbacks (publishing) as a real commit would."""

    def capture():
        return django_capture_on_commit_callbacks(execute=True)

    return capture
