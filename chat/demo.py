"""Demo data for `python manage.py seed_demo`: a public #general channel with the demo users."""

from typing import Any

from accounts.models import User
from chat import services
from chat.models import Channel


def seed_demo(*, users: list[User], stdout: Any) -> None:
    """Creates #general (first user as admin) and makes every demo user a member; idempotent."""
    channel = Channel.objects.filter(slug="general").first()
    if channel is None:
        channel = services.channel_create(
            user=users[0], name="General", slug="general", description="Say hello to everyone."
        )
    for user in users:
        services.channel_join(user=user, channel_id=channel.pk)
    stdout.write(f"#general: channel {channel.pk}, open /chat/{channel.pk}/")
