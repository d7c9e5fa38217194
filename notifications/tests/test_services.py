"""Signals and services against the real database: rows, coalescing, retraction, read state,
mutes, bulk, and what each publishes on the recipient's inbox."""

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.services import user_follow, user_unfollow
from accounts.tests.factories import UserFactory
from config.errors import Invalid, NotFound
from notifications import receivers, services, signals
from notifications.models import Kind, Notification
from realtime.api import unread_for_user
from realtime.testing import stored_events

pytestmark = pytest.mark.django_db


def inbox(user):
    return f"inbox:{user.pk}"


def stream(user):
    """(event, payload) of each event stored on the user's inbox stream, in order."""
    return [(row.event, json.loads(row.frame)["payload"]) for row in stored_events(inbox(user))]


def titles(user):
    return list(Notification.objects.filter(recipient=user, deleted_at__isnull=True).values_list("title", flat=True))


def follow(follower, followee, committed):
    with committed():
        user_follow(follower=follower, followee_id=followee.pk)


def test_follow_notifies_the_followee_and_pushes_it_with_counters(ann, ben, published, committed):
    follow(ann, ben, committed)

    notification = Notification.objects.get(recipient=ben)
    assert (notification.kind, notification.title, notification.read_at) == (Kind.FOLLOW, "Ann followed you", None)
    [(event, payload)] = stream(ben)
    assert event == "notification.created"
    assert payload == {
        "notification": {
            "id": notification.pk,
            "kind": "follow",
            "title": "Ann followed you",
            "body": "",
            "data": {},
            "actors": [{"id": ann.pk, "username": "ann", "display_name": "Ann"}],
            "created_at": payload["notification"]["created_at"],
            "updated_at": payload["notification"]["updated_at"],
            "read": False,
        }
    }
    assert published.of(inbox(ben), "notification.created") == [payload]
    assert published.of(inbox(ben), "unread")[-1]["notifications"] == 1
    assert stream(ann) == [] and unread_for_user(user=ben)["notifications"] == 1


def test_new_followers_coalesce_into_the_unread_notification(ann, ben, cat, committed):
    dan = UserFactory(username="dan", display_name="Dan")
    follow(ann, ben, committed)
    follow(cat, ben, committed)
    assert titles(ben) == ["Ann and Cat followed you"]
    follow(dan, ben, committed)

    assert titles(ben) == ["Ann and 2 others followed you"]
    assert [event for event, _ in stream(ben)] == [
        "notification.created",
        "notification.updated",
        "notification.updated",
    ]
    last = stream(ben)[-1][1]["notification"]
    assert [actor["username"] for actor in last["actors"]] == ["ann", "cat", "dan"]
    assert unread_for_user(user=ben)["notifications"] == 1


def test_a_follower_after_the_notification_was_read_gets_a_new_one(ann, ben, cat, committed):
    follow(ann, ben, committed)
    services.notifications_mark_read(user=ben, everything=True)
    follow(cat, ben, committed)

    assert titles(ben) == ["Cat followed you", "Ann followed you"]


def test_follow_back_makes_one_friend_notification_each_instead_of_a_follow(ann, ben, committed):
    follow(ann, ben, committed)
    follow(ben, ann, committed)

    assert titles(ann) == ["You and Ben are now friends"]
    assert titles(ben) == ["You and Ann are now friends", "Ann followed you"]
    assert Notification.objects.get(recipient=ann).kind == Kind.FRIEND


def test_unfollow_withdraws_the_follower_from_an_unread_notification(ann, ben, cat, committed):
    follow(ann, ben, committed)
    follow(cat, ben, committed)
    with committed():
        user_unfollow(follower=cat, followee_id=ben.pk)
    assert titles(ben) == ["Ann followed you"]
    assert stream(ben)[-1][0] == "notification.updated"

    with committed():
        user_unfollow(follower=ann, followee_id=ben.pk)

    notification = Notification.objects.get(recipient=ben)
    assert titles(ben) == [] and notification.deleted_at is not None
    assert stream(ben)[-1] == ("notification.deleted", {"id": notification.pk})
    assert unread_for_user(user=ben)["notifications"] == 0


def test_unfollow_leaves_a_read_notification_alone(ann, ben, committed):
    follow(ann, ben, committed)
    services.notifications_mark_read(user=ben, everything=True)
    with committed():
        user_unfollow(follower=ann, followee_id=ben.pk)
    assert titles(ben) == ["Ann followed you"]


def test_friendship_ended_withdraws_unread_friend_notifications(ann, ben, committed):
    follow(ann, ben, committed)
    follow(ben, ann, committed)
    with committed():
        user_unfollow(follower=ben, followee_id=ann.pk)
    assert titles(ann) == [] and titles(ben) == ["Ann followed you"]


def test_each_host_signal_notifies_the_right_user(ann, ben, committed):
    with committed(), transaction.atomic():
        signals.achievement_unlocked.send(
            sender=None, user=ann, achievement={"id": 7, "name": "First run", "description": "You ran 5 km."}
        )
        signals.work_purchased.send(
            sender=None, seller=ann, buyer=ben, work={"id": 3, "title": "Sunrise"}, price=Decimal("12.50")
        )
        signals.task_assigned.send(sender=None, user=ben, task={"id": 9, "title": "Write docs"}, by=ann)
        signals.task_completed.send(sender=None, user=ben, task={"id": 9, "title": "Write docs"}, by=ann)

    rows = {n.title: n for n in Notification.objects.all()}
    assert rows["First run"].recipient == ann and rows["First run"].body == "You ran 5 km."
    assert rows["First run"].data == {"achievement": {"id": 7, "name": "First run", "description": "You ran 5 km."}}
    assert rows["Ben bought Sunrise"].recipient == ann
    assert rows["Ben bought Sunrise"].data == {"work": {"id": 3, "title": "Sunrise"}, "price": "12.50"}
    assert rows["Ann assigned you Write docs"].recipient == ben
    assert rows["Ben completed Write docs"].recipient == ann
    assert {n.kind for n in rows.values()} == {"achievement", "purchase", "task"}
    assert [event for event, _ in stream(ann)] == ["notification.created"] * 3


def test_a_cancelled_task_withdraws_its_unread_assignment(ann, ben, committed):
    with committed():
        signals.task_assigned.send(sender=None, user=ben, task={"id": 9, "title": "Write docs"}, by=ann)
        signals.task_assigned.send(sender=None, user=ben, task={"id": 10, "title": "Test"}, by=ann)
        signals.task_cancelled.send(sender=None, user=ben, task={"id": 9, "title": "Write docs"})
    assert titles(ben) == ["Ann assigned you Test"]
    assert stream(ben)[-1][0] == "notification.deleted"


def test_goal_reached_becomes_an_achievement_of_the_owner(ann, committed):
    goal = SimpleNamespace(pk=5, title="Run 100 km", owner=ann, target=Decimal("100.00"), unit="km")
    with committed():
        # shares' goal_reached, the signal the receiver listens to (tests may not import shares).
        receivers.goal_reached.send(sender=SimpleNamespace, goal=goal)

    notification = Notification.objects.get(recipient=ann)
    assert (notification.kind, notification.title) == ("achievement", "Goal reached: Run 100 km")
    assert notification.body == "You reached your target of 100 km."


def test_a_rolled_back_sender_stores_nothing(ann, ben, committed):
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        signals.work_purchased.send(sender=None, seller=ann, buyer=ben, work={"id": 1, "title": "W"}, price=5)
        raise RuntimeError("the purchase failed")

    assert not Notification.objects.exists()
    assert stored_events() == []  # test_topics checks that an open connection gets nothing


def test_a_failing_notification_never_breaks_the_senders_write(ann, caplog, committed):
    with committed(), transaction.atomic():
        signals.achievement_unlocked.send(sender=None, user=ann, achievement={"id": 1, "name": "   "})
        signals.achievement_unlocked.send(sender=None, user=ann, achievement={"id": 2, "name": "Kept"})

    assert titles(ann) == ["Kept"]
    assert "Storing a notification failed" in caplog.text


def test_mark_read_ignores_other_users_and_unknown_ids(ann, ben, cat, published, committed):
    follow(ann, ben, committed)
    follow(ben, cat, committed)
    mine = Notification.objects.get(recipient=ben)
    theirs = Notification.objects.get(recipient=cat)

    with committed():
        changed = services.notifications_mark_read(user=ben, ids=[mine.pk, theirs.pk, 999999])

    assert changed == [mine.pk]
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert stream(ben)[-1] == ("notifications.read", {"ids": [mine.pk]})
    assert published.of(inbox(ben), "unread")[-1]["notifications"] == 0
    # Nothing changed: no event.
    assert services.notifications_mark_read(user=ben, ids=[mine.pk]) == []
    assert services.notifications_mark_read(user=cat, everything=True) == [theirs.pk]
    assert len(stream(ben)) == 2


def test_hide_lowers_the_count_and_someone_elses_is_not_found(ann, ben, committed):
    follow(ann, ben, committed)
    notification = Notification.objects.get(recipient=ben)
    with pytest.raises(NotFound):
        services.notification_hide(user=ann, notification_id=notification.pk)

    with committed():
        services.notification_hide(user=ben, notification_id=notification.pk)

    assert unread_for_user(user=ben)["notifications"] == 0 and titles(ben) == []
    assert stream(ben)[-1] == ("notification.deleted", {"id": notification.pk})
    with pytest.raises(NotFound):
        services.notification_hide(user=ben, notification_id=notification.pk)


def test_muted_kinds_are_not_stored_but_system_always_is(ann, ben, committed):
    services.preference_update(user=ben, muted_kinds=["follow", "task"])
    follow(ann, ben, committed)
    assert not Notification.objects.filter(recipient=ben).exists()

    assert services.notifications_bulk_create(user_ids=[ben.pk], kind="system", title="Maintenance tonight") == 1
    assert services.notifications_bulk_create(user_ids=[ben.pk], kind="task", title="Ignored") == 0
    assert titles(ben) == ["Maintenance tonight"]
    with pytest.raises(Invalid):
        services.preference_update(user=ben, muted_kinds=["system"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "nope"}, "kind"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"body": "x" * 2001}, "body"),
        ({"data": ["not", "an", "object"]}, "data"),
    ],
)
def test_create_refuses_bad_content(ann, fields, field):
    arguments = {"recipient": ann, "kind": "system", "title": "Hello", **fields}
    with pytest.raises(Invalid) as error:
        services.notification_create(**arguments)
    assert set(error.value.fields) == {field}
    assert not Notification.objects.exists()


def test_bulk_notifies_2000_users_with_few_statements_and_one_event_each(committed, published):
    users = UserFactory.create_batch(2000)
    UserFactory(is_active=False)

    with committed(), CaptureQueriesContext(connection) as queries:
        count = services.notifications_bulk_create(user_ids=None, kind="system", title="Welcome", body="Hello all")

    assert count == 2000 == Notification.objects.count()
    assert len(queries) < 60, len(queries)
    sample = users[1234]
    [(event, payload)] = stream(sample)
    assert event == "notification.created" and payload["notification"]["title"] == "Welcome"
    assert payload["notification"]["id"] == Notification.objects.get(recipient=sample).pk
    assert len(published.of(event="notification.created")) == 2000
    assert unread_for_user(user=sample)["notifications"] == 1


def test_bulk_with_a_group_key_replaces_the_unread_one(ann, ben, committed):
    services.notifications_bulk_create(user_ids=[ann.pk, ben.pk], kind="system", title="v1", group_key="release")
    services.notifications_mark_read(user=ann, everything=True)
    with committed():
        count = services.notifications_bulk_create(
            user_ids=[ann.pk, ben.pk], kind="system", title="v2", group_key="release"
        )

    assert count == 2
    assert titles(ann) == ["v2", "v1"] and titles(ben) == ["v2"]
    assert [event for event, _ in stream(ben)] == ["notification.created", "notification.updated"]


def test_withdraw_for_source_removes_unread_ones_about_that_object(ann, ben, cat, committed):
    about_cat = services.notification_create(recipient=ann, kind="system", title="About cat", source=cat)
    read_one = services.notification_create(recipient=ben, kind="system", title="Also cat", source=cat)
    services.notifications_mark_read(user=ben, ids=[read_one.pk])
    other = services.notification_create(recipient=ann, kind="system", title="About ben", source=ben)

    with committed():
        assert services.notifications_withdraw_for_source(source=cat) == 1

    assert titles(ann) == ["About ben"] and titles(ben) == ["Also cat"]
    assert stream(ann)[-1] == ("notification.deleted", {"id": about_cat.pk})
    assert Notification.objects.get(pk=other.pk).deleted_at is None
