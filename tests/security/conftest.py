"""Fixtures for the security suites: ann's objects in every app, and a snapshot of every
row the apps keep, to show that a refused request changed nothing."""

from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps

from accounts.models import User
from accounts.tests.factories import make_friends
from chat import services as chat_services
from chat.models import Channel, DirectMessage, Message
from notifications import services as notification_services
from notifications.models import Notification
from shares import services as share_services
from shares.models import Goal, ProgressEntry, Reflection, Share, ShareComment
from uploads import services as upload_services
from uploads.models import UploadFile, UploadSession

# Every app whose rows a request could change (the realtime core's include the stored events:
# a refused write publishes nothing either).
SNAPSHOT_APPS = ("accounts", "chat", "shares", "uploads", "notifications", "realtime")
# Columns a read may touch without changing anything a user owns.
VOLATILE = {"last_login"}


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model of SNAPSHOT_APPS, by model, in primary key order."""
    rows = {}
    for label in SNAPSHOT_APPS:
        for model in apps.get_app_config(label).get_models():
            rows[model._meta.label] = [
                {key: value for key, value in row.items() if key not in VOLATILE}
                for row in model.objects.order_by("pk").values()
            ]
    return rows


@dataclass
class World:
    """Ann's objects (ben is the one who tries them); `missing` is an id no row has."""

    ann: User
    ben: User
    cat: User
    secret: Channel  # private: ann (admin) and cat
    secret_message: Message
    general: Channel  # public: ann (admin) and ben
    general_message: Message  # ann's, in a channel ben reads
    dm: DirectMessage  # ann to cat (friends)
    goal: Goal
    progress: ProgressEntry
    reflection: Reflection
    share: Share  # ann's live public share
    comment: ShareComment  # cat's, on that share
    ended: Share  # ann's ended share
    password_share: Share
    upload: UploadSession
    upload_file: UploadFile
    notification: Notification

    missing: int = 987_654_321
    missing_token: str = "A" * 32


@pytest.fixture
def world(ann, ben, cat) -> World:
    make_friends(ann, cat)
    secret = chat_services.channel_create(user=ann, name="Secret plans", is_private=True)
    chat_services.channel_member_add(user=ann, channel_id=secret.pk, member_id=cat.pk)
    secret_message, _ = chat_services.message_create(user=ann, channel_id=secret.pk, body="secret", client_id="s1")
    general = chat_services.channel_create(user=ann, name="General")
    chat_services.channel_join(user=ben, channel_id=general.pk)
    general_message, _ = chat_services.message_create(user=ann, channel_id=general.pk, body="hi", client_id="g1")
    dm, _ = chat_services.dm_send(sender=ann, recipient_id=cat.pk, body="just us", client_id="d1")
    goal = share_services.goal_create(user=ann, title="Run 100 km", unit="km", target=100)
    progress = share_services.progress_record(user=ann, goal_id=goal.pk, value=10)
    reflection = share_services.reflection_create(user=ann, text="Going well")
    share = share_services.share_create(user=ann, title="My year", show_reflections=True)
    comment = share_services.comment_create(token=share.token, user=cat, address="127.0.0.1", message="Go ann")
    ended = share_services.share_create(user=ann, title="Old")
    share_services.share_end(user=ann, share_id=ended.pk)
    password_share = share_services.share_create(user=ann, title="Locked", kind=Share.Kind.PASSWORD, password="sesame")
    upload = upload_services.session_create(
        user=ann, category="personal", files=[{"name": "me.png", "size": 100, "type": "image/png"}]
    )
    notification = notification_services.notification_create(recipient=ann, kind="system", title="For ann")
    assert notification is not None
    return World(
        ann=ann,
        ben=ben,
        cat=cat,
        secret=secret,
        secret_message=secret_message,
        general=general,
        general_message=general_message,
        dm=dm,
        goal=goal,
        progress=progress,
        reflection=reflection,
        share=share,
        comment=comment,
        ended=ended,
        password_share=password_share,
        upload=upload,
        upload_file=upload.files.get(),
        notification=notification,
    )
