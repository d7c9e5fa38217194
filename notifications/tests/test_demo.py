"""seed_demo: the demo users get their welcome and friend notifications, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def titles_of(username):
    return sorted(Notification.objects.filter(recipient__username=username).values_list("title", flat=True))


def test_seed_demo_notifies_each_demo_user_once(committed):
    with committed():
        call_command("seed_demo", stdout=StringIO())
    first = titles_of("ben")
    with committed():
        call_command("seed_demo", stdout=StringIO())

    assert titles_of("ben") == first
    assert {"Welcome to the realtime demo", "You and Ann are now friends", "You and Cat are now friends"} <= set(first)
    assert User.objects.get(username="ann").notifications.filter(title="Welcome to the realtime demo").count() == 1
