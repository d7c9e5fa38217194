import pytest
from django.db import transaction
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import Follow, User
from accounts.tests.factories import FollowFactory, UserFactory
from config.errors import Conflict, Invalid, NotFound

pytestmark = pytest.mark.django_db


def test_user_register_creates_active_user_with_hashed_password():
    user = services.user_register(
        username="  dora ", password="a-long-unusual-pass-7", email=" dora@example.com", display_name=" Dora "
    )

    user.refresh_from_db()
    assert (user.username, user.email, user.display_name, user.is_active) == ("dora", "dora@example.com", "Dora", True)
    assert user.password != "a-long-unusual-pass-7"
    assert user.check_password("a-long-unusual-pass-7")


def test_user_register_refuses_weak_password():
    with pytest.raises(Invalid) as caught:
        services.user_register(username="dora", password="123")

    assert set(caught.value.fields) == {"password"}
    assert not User.objects.filter(username="dora").exists()


def test_user_register_refuses_taken_username(ann):
    with pytest.raises(Invalid) as caught:
        services.user_register(username="ann", password="a-long-unusual-pass-7")

    assert "username" in caught.value.fields
    assert User.objects.filter(username="ann").count() == 1


def test_user_register_refuses_bad_email():
    with pytest.raises(Invalid) as caught:
        services.user_register(username="dora", password="a-long-unusual-pass-7", email="not-an-email")

    assert "email" in caught.value.fields
    assert not User.objects.filter(username="dora").exists()


def test_user_follow_creates_follow_and_signals_after_commit(
    ann, ben, sent_signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        follow = services.user_follow(follower=ann, followee_id=ben.pk)
        assert sent_signals == []

    assert (follow.follower, follow.followee) == (ann, ben)
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent_signals == [("user_followed", {"follower": ann, "followee": ben})]


def test_user_follow_back_forms_friendship(ann, ben, sent_signals, django_capture_on_commit_callbacks):
    FollowFactory(follower=ben, followee=ann)

    with django_capture_on_commit_callbacks(execute=True):
        services.user_follow(follower=ann, followee_id=ben.pk)

    assert sent_signals == [
        ("user_followed", {"follower": ann, "followee": ben}),
        ("friendship_formed", {"user": ann, "friend": ben}),
    ]


def test_user_follow_refuses_oneself(ann, sent_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Invalid):
        services.user_follow(follower=ann, followee_id=ann.pk)

    assert not Follow.objects.exists()
    assert sent_signals == []


def test_user_follow_twice_conflicts(ann, ben, sent_signals, django_capture_on_commit_callbacks):
    FollowFactory(follower=ann, followee=ben)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        services.user_follow(follower=ann, followee_id=ben.pk)

    assert Follow.objects.filter(follower=ann, followee=ben).count() == 1
    assert sent_signals == []


@pytest.mark.parametrize("case", ["unknown", "inactive"])
def test_user_follow_refuses_missing_user(ann, case):
    followee_id = 10**9 if case == "unknown" else UserFactory(is_active=False).pk

    with pytest.raises(NotFound):
        services.user_follow(follower=ann, followee_id=followee_id)

    assert not Follow.objects.exists()


def test_user_unfollow_deletes_and_ends_friendship_after_commit(
    ann, ben, sent_signals, django_capture_on_commit_callbacks
):
    FollowFactory(follower=ann, followee=ben)
    FollowFactory(follower=ben, followee=ann)

    with django_capture_on_commit_callbacks() as callbacks:
        services.user_unfollow(follower=ann, followee_id=ben.pk)
    assert sent_signals == []
    for callback in callbacks:
        callback()

    assert not Follow.objects.filter(follower=ann, followee=ben).exists()
    assert Follow.objects.filter(follower=ben, followee=ann).exists()
    assert sent_signals == [
        ("user_unfollowed", {"follower": ann, "followee": ben}),
        ("friendship_ended", {"user": ann, "friend": ben}),
    ]


def test_user_unfollow_refuses_when_not_following(ann, ben, sent_signals, django_capture_on_commit_callbacks):
    FollowFactory(follower=ben, followee=ann)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(NotFound):
        services.user_unfollow(follower=ann, followee_id=ben.pk)

    assert Follow.objects.count() == 1
    assert sent_signals == []


@pytest.mark.django_db(transaction=True)
def test_user_follow_signals_only_when_the_outer_transaction_commits(sent_signals):
    ann, ben, cat = UserFactory(), UserFactory(), UserFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.user_follow(follower=ann, followee_id=ben.pk)
        raise RuntimeError("roll back")
    assert sent_signals == []
    assert not Follow.objects.exists()

    services.user_follow(follower=ann, followee_id=cat.pk)
    assert sent_signals == [("user_followed", {"follower": ann, "followee": cat})]


def test_user_update_profile_changes_display_name_only(ann):
    services.user_update_profile(user=ann, display_name="  Annie  ")

    ann.refresh_from_db()
    assert (ann.display_name, ann.username, ann.email) == ("Annie", "ann", "ann@example.com")


def test_user_update_profile_without_fields_changes_nothing(ann):
    services.user_update_profile(user=ann)

    ann.refresh_from_db()
    assert ann.display_name == "Ann"


def test_user_update_profile_refuses_long_display_name(ann):
    with pytest.raises(Invalid) as caught:
        services.user_update_profile(user=ann, display_name="x" * 101)

    assert set(caught.value.fields) == {"display_name"}
    ann.refresh_from_db()
    assert ann.display_name == "Ann"


def test_token_pair_create_returns_tokens_for_the_user(ann):
    tokens = services.token_pair_create(user=ann)

    assert AccessToken(tokens["access"])["user_id"] == str(ann.pk)
    assert RefreshToken(tokens["refresh"])["user_id"] == str(ann.pk)
    assert OutstandingToken.objects.filter(user=ann).count() == 1


def test_a_recreated_moderators_group_gets_every_apps_permissions_and_an_existing_one_is_left():
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    from accounts.models import MODERATORS_GROUP

    # A flush removes the group; each app's post_migrate then ensures it, one after another.
    Group.objects.filter(name=MODERATORS_GROUP).delete()
    call_command("migrate", verbosity=0)  # sends post_migrate to every app, as flush does
    granted = set(Group.objects.get(name=MODERATORS_GROUP).permissions.values_list("codename", flat=True))
    assert {"moderate_message", "moderate_sharecomment"} <= granted  # chat's and shares'

    group = Group.objects.get(name=MODERATORS_GROUP)
    group.permissions.clear()  # an admin's choice
    call_command("migrate", verbosity=0)
    assert not group.permissions.exists()
