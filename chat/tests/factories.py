"""Rows written directly, for setting up state; behaviour under test goes through the services."""

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import UserFactory
from chat.models import Channel, Membership


class ChannelFactory(DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"Channel {n}")
    slug = factory.Sequence(lambda n: f"channel-{n}")
    created_by = factory.SubFactory(UserFactory)


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    channel = factory.SubFactory(ChannelFactory)
    user = factory.SubFactory(UserFactory)
