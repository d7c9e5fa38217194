"""Demo data for `python manage.py seed_demo`: a goal of ann's with some progress and a public share."""

from typing import Any

from django.conf import settings

from accounts.models import User
from shares import services
from shares.models import Goal, Share

GOAL_TITLE = "Run 100 km this month"
SHARE_TITLE = "Ann's running month"


def seed_demo(*, users: list[User], stdout: Any) -> None:
    """Gives the first demo user (ann) a goal with progress and a reflection, and a public share of it
    open to comments; prints the share's link. Idempotent: an existing active demo share is kept."""
    owner = users[0]
    goal = Goal.objects.filter(owner=owner, title=GOAL_TITLE).first()
    if goal is None:
        goal = services.goal_create(
            user=owner, title=GOAL_TITLE, unit="km", target=100, description="Four runs a week."
        )
        for delta, note in ((5, "First run, easy pace"), (8.5, "Hills"), (12, "Long Sunday run")):
            services.progress_record(user=owner, goal_id=goal.pk, delta=delta, note=note)
        services.reflection_create(user=owner, text="Legs are getting used to it.")
    share = Share.objects.filter(owner=owner, title=SHARE_TITLE, is_active=True).first()
    if share is None or not share.is_live:
        share = services.share_create(user=owner, title=SHARE_TITLE, goals=[goal.pk], show_reflections=True)
    port = getattr(settings, "PORT", 8000)
    stdout.write(f"Live share: http://127.0.0.1:{port}/s/{share.token}/ (ann's dashboard: /shares/)")
