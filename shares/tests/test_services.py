"""Shares services against the real database: writes, what they publish where, and every refusal."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from accounts.tests.factories import UserFactory
from config.errors import Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from realtime.testing import stored_events
from shares import services
from shares.models import Goal, Share, ShareComment
from shares.signals import goal_reached
from shares.tests.factories import GoalFactory

pytestmark = pytest.mark.django_db


def progress_events(published, share):
    return published.of(share.topic_key, "progress.updated")


def replayed(share):
    """What a viewer resuming from seq 0 would be replayed: (event, payload) per stored event."""
    return [(row.event, json.loads(row.frame)["payload"]) for row in stored_events(share.topic_key)]


# -- progress and its scope ------------------------------------------------------------


def test_progress_record_moves_the_goal_and_publishes_once_per_share_in_scope(
    ann, run_goal, read_goal, public_share, run_only_share, published
):
    reading_only = services.share_create(user=ann, title="Books", goals=[read_goal.pk])

    entry = services.progress_record(user=ann, goal_id=run_goal.pk, delta=5, note="morning run")
    services.progress_record(user=ann, goal_id=run_goal.pk, value=Decimal("12.5"))

    run_goal.refresh_from_db()
    assert run_goal.current == Decimal("12.5") and entry.value == 5 and entry.delta == 5
    for share in (public_share, run_only_share):
        events = progress_events(published, share)
        assert [e["type"] for e in events] == ["progress", "progress"]
        assert events[0]["goal"]["current"] == 5 and events[0]["entry"]["note"] == "morning run"
        assert events[1]["goal"]["current"] == 12.5 and events[1]["entry"]["delta"] == 7.5
    # Out of scope: nothing, not live, not stored for a resume.
    assert progress_events(published, reading_only) == []
    assert replayed(reading_only) == []


def test_progress_on_a_share_hiding_progress_is_a_goal_event_without_the_entry(ann, run_goal, published):
    share = services.share_create(user=ann, title="Quiet", show_progress=False)
    services.progress_record(user=ann, goal_id=run_goal.pk, delta=3, note="private note")
    [event] = progress_events(published, share)
    assert event["type"] == "goal" and event["goal"]["current"] == 3
    assert "private note" not in json.dumps(replayed(share))


def test_progress_refusals(ann, ben, run_goal):
    with pytest.raises(NotFound):
        services.progress_record(user=ben, goal_id=run_goal.pk, delta=1)
    with pytest.raises(Invalid) as both:
        services.progress_record(user=ann, goal_id=run_goal.pk, value=1, delta=1)
    assert "value" in both.value.fields
    with pytest.raises(Invalid):
        services.progress_record(user=ann, goal_id=run_goal.pk)
    with pytest.raises(Invalid) as note:
        services.progress_record(user=ann, goal_id=run_goal.pk, delta=1, note="x" * 501)
    assert "note" in note.value.fields
    with pytest.raises(Invalid):
        services.progress_record(user=ann, goal_id=run_goal.pk, value=Decimal("1e20"))
    run_goal.refresh_from_db()
    assert run_goal.current == 0 and not run_goal.entries.exists()


def test_reaching_the_target_makes_the_goal_done_and_sends_goal_reached_once(ann, run_goal, committed):
    received = []

    def receiver(sender, goal, **kwargs):
        received.append((goal.pk, goal.status))

    goal_reached.connect(receiver, dispatch_uid="test-goal-reached")
    try:
        with committed():
            services.progress_record(user=ann, goal_id=run_goal.pk, value=99)
        assert received == []
        with committed():
            services.progress_record(user=ann, goal_id=run_goal.pk, delta=1)
        assert received == [(run_goal.pk, Goal.Status.DONE)]
        with committed():
            services.goal_update(user=ann, goal_id=run_goal.pk, status=Goal.Status.ACTIVE)
            services.progress_record(user=ann, goal_id=run_goal.pk, delta=5)
        assert len(received) == 1  # only the first time
    finally:
        goal_reached.disconnect(dispatch_uid="test-goal-reached")


def test_goal_reached_is_not_sent_when_the_write_rolls_back(ann, run_goal, django_capture_on_commit_callbacks):
    received = []
    goal_reached.connect(lambda sender, goal, **kw: received.append(goal.pk), dispatch_uid="test-rollback", weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.progress_record(user=ann, goal_id=run_goal.pk, value=100)
        assert received == [] and callbacks  # sent only by the commit
    finally:
        goal_reached.disconnect(dispatch_uid="test-rollback")


def test_goal_create_update_and_delete_reach_the_shares_showing_them(
    ann, run_goal, public_share, run_only_share, published
):
    goal = services.goal_create(user=ann, title="  Swim  ", unit="laps", target="40")
    assert goal.title == "Swim" and goal.target == 40
    assert progress_events(published, public_share)[-1] == {
        "type": "goal",
        "goal": progress_events(published, public_share)[-1]["goal"],
    }
    assert progress_events(published, run_only_share) == []  # not chosen there

    services.goal_update(user=ann, goal_id=run_goal.pk, title="Run 200 km", target=200)
    assert progress_events(published, run_only_share)[-1]["goal"]["title"] == "Run 200 km"

    services.progress_record(user=ann, goal_id=run_goal.pk, delta=10, note="before delete")
    services.goal_delete(user=ann, goal_id=run_goal.pk)
    assert progress_events(published, run_only_share)[-1] == {"type": "goal.removed", "goal_id": run_goal.pk}
    # Stored events about the deleted goal are redacted for resuming viewers.
    assert "before delete" not in json.dumps(replayed(run_only_share))
    assert not Goal.objects.filter(pk=run_goal.pk).exists()


def test_goal_refusals(ann, ben, run_goal):
    with pytest.raises(Invalid) as title:
        services.goal_create(user=ann, title="   ")
    assert "title" in title.value.fields
    with pytest.raises(Invalid):
        services.goal_create(user=ann, title="x" * 121)
    with pytest.raises(Invalid) as target:
        services.goal_create(user=ann, title="ok", target=0)
    assert "target" in target.value.fields
    with pytest.raises(NotFound):
        services.goal_update(user=ben, goal_id=run_goal.pk, title="mine now")
    with pytest.raises(NotFound):
        services.goal_delete(user=ben, goal_id=run_goal.pk)
    with pytest.raises(Invalid):
        services.goal_update(user=ann, goal_id=run_goal.pk, status="finished")


def test_reflections_reach_only_shares_that_show_them(ann, public_share, run_only_share, published):
    reflection = services.reflection_create(user=ann, text="Felt strong today")
    assert progress_events(published, public_share) == [
        {
            "type": "reflection",
            "reflection": {
                "id": reflection.pk,
                "text": "Felt strong today",
                "created_at": progress_events(published, public_share)[0]["reflection"]["created_at"],
            },
        }
    ]
    assert progress_events(published, run_only_share) == []
    assert replayed(run_only_share) == []

    services.reflection_delete(user=ann, reflection_id=reflection.pk)
    assert progress_events(published, public_share)[-1] == {
        "type": "reflection.removed",
        "reflection_id": reflection.pk,
    }
    assert "Felt strong" not in json.dumps(replayed(public_share))


def test_reflection_refusals(ann, ben):
    with pytest.raises(Invalid):
        services.reflection_create(user=ann, text=" ")
    with pytest.raises(Invalid):
        services.reflection_create(user=ann, text="x" * 2001)
    reflection = services.reflection_create(user=ann, text="mine")
    with pytest.raises(NotFound):
        services.reflection_delete(user=ben, reflection_id=reflection.pk)


def test_ended_and_expired_shares_get_nothing(ann, run_goal, public_share, published):
    services.share_end(user=ann, share_id=public_share.pk)
    expiring = services.share_create(user=ann, title="Soon", expires_at=timezone.now() + timedelta(seconds=30))
    Share.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    published.clear()
    services.progress_record(user=ann, goal_id=run_goal.pk, delta=1)
    assert published.of(event="progress.updated") == []


# -- shares: create, access, change, end ----------------------------------------------


def test_share_create_makes_an_unguessable_token_and_hashes_the_password(ann, run_goal):
    share = services.share_create(user=ann, title="Secret", kind="password", password="open-sesame")
    other = services.share_create(user=ann, title="Other")
    assert len(share.token) >= 32 and share.token != other.token
    assert share.password != "open-sesame" and check_password("open-sesame", share.password)
    assert other.password == ""


def test_share_create_refusals(ann, ben):
    foreign = GoalFactory(owner=ben)
    with pytest.raises(Invalid) as password:
        services.share_create(user=ann, title="S", kind="password")
    assert "password" in password.value.fields
    with pytest.raises(Invalid):
        services.share_create(user=ann, title="S", kind="password", password="abc")
    with pytest.raises(Invalid) as goals:
        services.share_create(user=ann, title="S", goals=[foreign.pk])
    assert "goals" in goals.value.fields
    with pytest.raises(Invalid):
        services.share_create(user=ann, title="")
    with pytest.raises(Invalid):
        services.share_create(user=ann, title="S", expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(Invalid):
        services.share_create(user=ann, title="S", comment_interval=5000)
    assert not Share.objects.exists()


def test_share_access_roles_and_refusals(ann, ben, public_share, password_share):
    assert services.share_access(token=public_share.token, user=None, password=None, address="1.1.1.1")[1] == "viewer"
    assert services.share_access(token=password_share.token, user=ann, password=None, address="")[1] == "owner"
    assert (
        services.share_access(token=password_share.token, user=ben, password="open-sesame", address="1.1.1.1")[1]
        == "viewer"
    )
    with pytest.raises(NotFound):
        services.share_access(token="nope" * 8, user=None, password=None, address="")
    with pytest.raises(Forbidden):
        services.share_access(token=password_share.token, user=None, password=None, address="1.1.1.1")
    with pytest.raises(Forbidden):
        services.share_access(token=password_share.token, user=ben, password="wrong", address="1.1.1.1")


def test_five_wrong_passwords_lock_the_address_out_even_with_the_right_one(password_share):
    token = password_share.token
    for _ in range(5):
        with pytest.raises(Forbidden):
            services.share_access(token=token, user=None, password="wrong", address="9.9.9.9")
    with pytest.raises(RateLimited) as limited:
        services.share_access(token=token, user=None, password="open-sesame", address="9.9.9.9")
    assert 590 <= limited.value.fields["retry_after"] <= 600
    # Another address is not limited.
    assert services.share_access(token=token, user=None, password="open-sesame", address="8.8.8.8")[1] == "viewer"


def test_share_end_publishes_share_ended_then_removes_everyone(ann, ben, public_share, published, committed):
    with pytest.raises(NotFound):
        services.share_end(user=ben, share_id=public_share.pk)
    with committed():
        services.share_end(user=ann, share_id=public_share.pk)
    assert published.of(public_share.topic_key, "share.ended") == [{"reason": "ended"}]
    with pytest.raises(NotFound):
        services.share_access(token=public_share.token, user=None, password=None, address="")
    public_share.refresh_from_db()
    assert not public_share.is_active and public_share.ended_at is not None


def test_share_expire_due_ends_only_an_expired_share(ann, published):
    share = services.share_create(user=ann, title="Soon", expires_at=timezone.now() + timedelta(minutes=5))
    assert services.share_expire_due(share_id=share.pk) is False
    Share.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.share_expire_due(share_id=share.pk) is True
    assert published.of(share.topic_key, "share.ended") == [{"reason": "expired"}]
    assert services.share_expire_due(share_id=share.pk) is False


def test_share_update_scope_removes_and_adds_goals_and_redacts_what_left(
    ann, run_goal, read_goal, public_share, published
):
    services.progress_record(user=ann, goal_id=read_goal.pk, delta=1, note="chapter one")
    services.reflection_create(user=ann, text="private thought")
    published.clear()

    services.share_update(user=ann, share_id=public_share.pk, goals=[run_goal.pk], show_reflections=False)

    events = progress_events(published, public_share)
    assert {"type": "goal.removed", "goal_id": read_goal.pk} in events
    [updated] = published.of(public_share.topic_key, "share.updated")
    assert [g["id"] for g in updated["share"]["goals"]] == [run_goal.pk] and "reflections" not in updated["share"]
    text = json.dumps(replayed(public_share))
    assert "chapter one" not in text and "private thought" not in text

    services.share_update(user=ann, share_id=public_share.pk, goals="all")
    assert progress_events(published, public_share)[-1]["goal"]["id"] == read_goal.pk


def test_share_update_password_removes_everyone_after_share_revoked(ann, password_share, published):
    services.share_update(user=ann, share_id=password_share.pk, password="new-secret")
    assert published.of(password_share.topic_key, "share.revoked") == [{"reason": "password"}]
    with pytest.raises(Forbidden):
        services.share_access(token=password_share.token, user=None, password="open-sesame", address="1.2.3.4")
    assert services.share_access(token=password_share.token, user=None, password="new-secret", address="1.2.3.4")


def test_share_update_refusals(ann, ben, public_share):
    with pytest.raises(NotFound):
        services.share_update(user=ben, share_id=public_share.pk, title="Ben's")
    with pytest.raises(Invalid):
        services.share_update(user=ann, share_id=public_share.pk, kind="password")
    with pytest.raises(Invalid):
        services.share_update(user=ann, share_id=public_share.pk, comment_interval=-1)
    services.share_end(user=ann, share_id=public_share.pk)
    with pytest.raises(NotFound):
        services.share_update(user=ann, share_id=public_share.pk, title="Again")


# -- comments ---------------------------------------------------------------------------


def test_comment_create_names_and_publishes(ann, ben, public_share, published):
    anonymous = services.comment_create(token=public_share.token, user=None, address="1.1.1.1", message="  Go!  ")
    named = services.comment_create(
        token=public_share.token, user=None, address="1.1.1.2", message="Nice", name="Coach"
    )
    signed = services.comment_create(
        token=public_share.token, user=ben, address="1.1.1.3", message="Proud", name="ignored"
    )
    owner = services.comment_create(token=public_share.token, user=ann, address="", message="Thanks")
    assert [c.name for c in (anonymous, named, signed, owner)] == ["Anonymous", "Coach", "Ben", "Ann"]
    assert anonymous.message == "Go!" and anonymous.author is None
    comments = [e["comment"] for e in published.of(public_share.topic_key, "comment.created")]
    assert [c["is_owner"] for c in comments] == [False, False, False, True]
    assert all("email" not in json.dumps(c) and "author" not in c for c in comments)


def test_comment_refusals(ann, ben, public_share):
    token = public_share.token
    with pytest.raises(Invalid) as empty:
        services.comment_create(token=token, user=None, address="1", message="   ")
    assert "message" in empty.value.fields
    with pytest.raises(Invalid):
        services.comment_create(token=token, user=None, address="1", message="x" * 201)
    services.share_update(user=ann, share_id=public_share.pk, allow_anonymous_comments=False)
    with pytest.raises(Unauthorized):
        services.comment_create(token=token, user=None, address="1", message="hi")
    services.comment_create(token=token, user=ben, address="1", message="signed in is fine")
    services.share_update(user=ann, share_id=public_share.pk, allow_comments=False)
    with pytest.raises(Forbidden):
        services.comment_create(token=token, user=ben, address="1", message="hi")
    services.share_end(user=ann, share_id=public_share.pk)
    with pytest.raises(NotFound):
        services.comment_create(token=token, user=ben, address="1", message="hi")
    assert ShareComment.objects.count() == 1


def test_slow_mode_is_per_viewer_and_spares_the_owner(ann, ben, public_share):
    services.share_update(user=ann, share_id=public_share.pk, comment_interval=30)
    token = public_share.token
    services.comment_create(token=token, user=ben, address="1", message="first")
    with pytest.raises(RateLimited) as limited:
        services.comment_create(token=token, user=ben, address="2", message="second")
    assert 29 <= limited.value.fields["retry_after"] <= 30
    services.comment_create(token=token, user=None, address="3", message="another viewer")
    with pytest.raises(RateLimited):
        services.comment_create(token=token, user=None, address="3", message="same address again")
    services.comment_create(token=token, user=ann, address="", message="owner 1")
    services.comment_create(token=token, user=ann, address="", message="owner 2")


def test_comment_hide_redacts_stored_events_and_restore_shows_it_again(ann, ben, public_share, published):
    comment = services.comment_create(token=public_share.token, user=None, address="1", message="rude words")
    with pytest.raises(NotFound):
        services.comment_hide(user=ben, comment_id=comment.pk)
    services.comment_hide(user=ann, comment_id=comment.pk, share_id=public_share.pk)
    assert published.of(public_share.topic_key, "comment.hidden") == [{"id": comment.pk}]
    assert "rude words" not in json.dumps(replayed(public_share))
    comment.refresh_from_db()
    assert comment.is_hidden and comment.hidden_by == ann and comment.message == "rude words"

    services.comment_restore(user=ann, comment_id=comment.pk)
    [restored] = published.of(public_share.topic_key, "comment.restored")
    assert restored["comment"]["message"] == "rude words" and restored["comment"]["hidden"] is False


def test_moderators_may_hide_comments_on_any_share(ann, public_share):
    from django.contrib.auth.models import Group

    from accounts.models import MODERATORS_GROUP

    moderator = UserFactory(username="mod", is_staff=True)
    moderator.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    comment = services.comment_create(token=public_share.token, user=None, address="1", message="spam")
    services.comment_hide(user=moderator, comment_id=comment.pk)
    comment.refresh_from_db()
    assert comment.is_hidden


def test_viewer_kick_refusals(ann, ben, public_share):
    with pytest.raises(Invalid):
        services.viewer_kick(user=ann, share_id=public_share.pk, viewer="forged")
    owner_id = services.viewer_id(public_share, "owner", "")
    with pytest.raises(Invalid):
        services.viewer_kick(user=ann, share_id=public_share.pk, viewer=owner_id)
    with pytest.raises(NotFound):
        services.viewer_kick(user=ben, share_id=public_share.pk, viewer=services.viewer_id(public_share, "a:x", "1"))
    # An id made for another share does not work here.
    other = services.share_create(user=ann, title="Other")
    with pytest.raises(Invalid):
        services.viewer_kick(user=ann, share_id=public_share.pk, viewer=services.viewer_id(other, "u:5", ""))
