"""Demo data for `python manage.py seed_demo`: a welcome notification for each demo user.

(Seeding makes the demo users friends through the accounts service, so each also has
"You and … are now friends" from the receivers.)
"""

from typing import Any

from accounts.models import User
from notifications import services
from notifications.models import Kind, Notification

WELCOME_KEY = "demo.welcome"


def seed_demo(*, users: list[User], stdout: Any) -> None:
    """A `system` welcome for each demo user who has none yet; idempotent."""
    have = set(Notification.objects.filter(group_key=WELCOME_KEY).values_list("recipient_id", flat=True))
    for user in users:
        if user.pk not in have:
            services.notification_create(
                recipient=user,
                kind=Kind.SYSTEM,
                title="Welcome to the realtime demo",
                body="Notifications appear in the bell at the top of every page, live.",
                group_key=WELCOME_KEY,
            )
    stdout.write(
        "notifications: the bell on every page and /notifications/; try "
        "`python manage.py notify --all --title Hello` with the pages open"
    )
