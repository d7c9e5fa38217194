from io import StringIO

import pytest
from django.core.management import call_command

from shares.models import Goal, Share

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_a_demo_goal_and_one_public_share_and_prints_its_link():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    share = Share.objects.get()
    assert share.owner.username == "ann" and share.kind == Share.Kind.PUBLIC and share.is_live
    goal = Goal.objects.get()
    assert goal.current == 25.5 and list(share.goals.all()) == [goal]
    assert out.getvalue().count(f"/s/{share.token}/") == 2
