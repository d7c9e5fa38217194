"""Notifications on the `inbox` topic over the real ASGI stack: live pushes, resume, read
state across devices, and one `unread` object with chat's counters."""

from types import SimpleNamespace
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from rest_framework.test import APIClient

from accounts.services import user_follow
from accounts.tests.factories import FollowFactory, UserFactory, make_friends
from notifications import receivers, services, signals
from notifications.models import Notification
from realtime.testing import Client, open_client, token_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def run(function: Any, *args: Any, **kwargs: Any) -> Any:
    return database_sync_to_async(function)(*args, **kwargs)


def rest_as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


async def people() -> tuple[Any, Any, Any]:
    return await run(
        lambda: tuple(UserFactory(username=name, display_name=name.title()) for name in ("ann", "ben", "cat"))
    )


async def inbox_of(user: Any, **params: Any) -> tuple[Client, dict[str, Any]]:
    client = await open_client(f"/ws/?token={token_for(user)}")
    reply = await client.join("inbox", **params)
    assert reply["ok"], reply
    return client, reply["payload"]


async def test_a_follow_reaches_the_open_inbox_and_an_offline_user_by_resume():
    ann, ben, cat = await people()
    ben_inbox, reply = await inbox_of(ben)
    assert reply["unread"]["notifications"] == 0

    await run(user_follow, follower=ann, followee_id=ben.pk)

    created = await ben_inbox.next_event("notification.created")
    assert created["topic"] == "inbox" and created["seq"] == 1
    assert created["payload"]["notification"]["title"] == "Ann followed you"
    unread = await ben_inbox.next_event("unread")
    assert unread["payload"]["notifications"] == 1 and "seq" not in unread

    # cat is offline: the follow is waiting in cat's inbox stream for the next connection.
    await run(user_follow, follower=ann, followee_id=cat.pk)
    cat_inbox, cat_reply = await inbox_of(cat, since=0)
    [missed] = cat_reply["missed"]
    assert missed["event"] == "notification.created" and missed["seq"] == 1
    assert missed["payload"]["notification"]["title"] == "Ann followed you"
    assert cat_reply["unread"]["notifications"] == 1
    await ben_inbox.disconnect()
    await cat_inbox.disconnect()


async def test_a_rolled_back_sender_pushes_nothing_to_an_open_connection():
    ann, ben, _ = await people()
    ann_inbox, _ = await inbox_of(ann)
    await ann_inbox.drain()

    def purchase_that_fails() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            signals.work_purchased.send(sender=None, seller=ann, buyer=ben, work={"id": 1, "title": "W"}, price=5)
            raise RuntimeError("payment declined")

    await run(purchase_that_fails)

    assert await ann_inbox.drain() == []
    assert not await run(lambda: Notification.objects.exists())
    await ann_inbox.disconnect()


async def test_read_state_syncs_across_two_connections_and_ignores_other_ids():
    ann, ben, cat = await people()
    await run(user_follow, follower=ann, followee_id=ben.pk)
    await run(user_follow, follower=ben, followee_id=cat.pk)
    mine = await run(lambda: Notification.objects.get(recipient=ben).pk)
    theirs = await run(lambda: Notification.objects.get(recipient=cat).pk)
    laptop, reply = await inbox_of(ben)
    phone, _ = await inbox_of(ben)
    assert reply["unread"]["notifications"] == 1
    await laptop.drain()
    await phone.drain()

    answer = await laptop.send_event("inbox", "notifications.read", ids=[theirs, 424242, mine])

    assert answer["ok"] and answer["payload"] == {"ids": [mine]}
    for device in (laptop, phone):
        read = await device.next_event("notifications.read")
        assert read["payload"] == {"ids": [mine]} and read["seq"] == 2
        assert (await device.next_event("unread"))["payload"]["notifications"] == 0
    again = await phone.send_event("inbox", "notifications.read", all=True)
    assert again["payload"] == {"ids": []}
    assert await run(lambda: Notification.objects.get(pk=theirs).read_at) is None
    await laptop.disconnect()
    await phone.disconnect()


@pytest.mark.parametrize("payload", [{}, {"ids": "1"}, {"ids": ["1"]}, {"ids": [True]}, {"all": 1}, {"all": False}])
async def test_read_payloads_are_validated(payload):
    ann, _, _ = await people()
    client, _ = await inbox_of(ann)
    reply = await client.request(op="send", topic="inbox", event="notifications.read", payload=payload)
    assert reply["ok"] is False and reply["error"]["code"] == "invalid", reply
    await client.disconnect()


async def test_a_chat_change_and_a_notification_change_each_publish_one_complete_unread_object():
    ann, ben, _ = await people()
    await run(make_friends, ann, ben)
    ben_inbox, reply = await inbox_of(ben)
    keys = set(reply["unread"])
    assert {"dms", "notifications", "channels"} <= keys
    await ben_inbox.drain()

    # A chat change, through chat's REST API (apps never import each other).
    sent = await run(lambda: rest_as(ann).post(f"/api/chat/dm/{ben.pk}/messages/", {"body": "hi"}, format="json"))
    assert sent.status_code == 201
    after_dm = (await ben_inbox.next_event("unread"))["payload"]
    await run(services.notification_create, recipient=ben, kind="system", title="Maintenance")
    after_notification = (await ben_inbox.next_event("unread"))["payload"]

    assert set(after_dm) == set(after_notification) == keys
    assert (after_dm["dms"], after_dm["notifications"]) == (1, 0)
    assert (after_notification["dms"], after_notification["notifications"]) == (1, 1)
    await ben_inbox.disconnect()


def _send_each_signal(name: str, ann: Any, ben: Any) -> Any:
    """Sends one signal inside a transaction, as host code does; returns who is notified."""
    with transaction.atomic():
        if name == "achievement_unlocked":
            signals.achievement_unlocked.send(sender=None, user=ann, achievement={"id": 1, "name": "First run"})
            return ann
        if name == "work_purchased":
            signals.work_purchased.send(sender=None, seller=ann, buyer=ben, work={"id": 2, "title": "Sunrise"}, price=9)
            return ann
        if name == "task_assigned":
            signals.task_assigned.send(sender=None, user=ann, task={"id": 3, "title": "Docs"}, by=ben)
            return ann
        if name == "task_completed":
            signals.task_completed.send(sender=None, user=ben, task={"id": 3, "title": "Docs"}, by=ann)
            return ann
        if name == "goal_reached":
            goal = SimpleNamespace(pk=4, title="Run 100 km", owner=ann, target=100, unit="km")
            receivers.goal_reached.send(sender=SimpleNamespace, goal=goal)
            return ann
    if name == "user_followed":
        user_follow(follower=ben, followee_id=ann.pk)
        return ann
    # friendship_formed: ann follows ben back (ben's follow is a row written directly, no signal)
    FollowFactory(follower=ben, followee=ann)
    user_follow(follower=ann, followee_id=ben.pk)
    return ann


@pytest.mark.parametrize(
    ("signal", "title"),
    [
        ("achievement_unlocked", "First run"),
        ("work_purchased", "Ben bought Sunrise"),
        ("task_assigned", "Ben assigned you Docs"),
        ("task_completed", "Ben completed Docs"),
        ("goal_reached", "Goal reached: Run 100 km"),
        ("user_followed", "Ben followed you"),
        ("friendship_formed", "You and Ben are now friends"),
    ],
)
async def test_each_signal_reaches_an_open_connection_and_the_next_one_by_resume(signal, title):
    ann, ben, _ = await people()
    live, _ = await inbox_of(ann)

    recipient = await run(_send_each_signal, signal, ann, ben)

    assert recipient == ann
    event = await live.next_event("notification.created")
    assert event["payload"]["notification"]["title"] == title
    row = await run(lambda: Notification.objects.get(recipient=ann))
    assert event["payload"]["notification"]["id"] == row.pk and row.title == title
    await live.disconnect()
    later, reply = await inbox_of(ann, since=event["seq"] - 1)
    assert reply["missed"][0] == event
    await later.disconnect()
