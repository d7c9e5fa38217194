from io import StringIO

import pytest
from django.core.management import call_command

from chat.models import Channel, Membership

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_general_with_every_demo_user_once():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    channel = Channel.objects.get(slug="general")
    assert not channel.is_private
    members = Membership.objects.filter(channel=channel).order_by("user__username")
    assert [(m.user.username, m.role) for m in members] == [("ann", "admin"), ("ben", "member"), ("cat", "member")]
    assert Channel.objects.count() == 1
    assert f"/chat/{channel.pk}/" in out.getvalue()
