"""Rows written directly, for setting up state; behaviour under test goes through the services."""

import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import UserFactory
from shares.models import Goal


class GoalFactory(DjangoModelFactory):
    class Meta:
        model = Goal

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Goal {n}")
    unit = "km"
    target = 100
