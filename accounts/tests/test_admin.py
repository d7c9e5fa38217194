import pytest

from accounts.models import Follow, User
from accounts.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


def test_user_changelist_searches_username_email_and_display_name(admin_client, ann, ben):
    ben.display_name = "Benedict"
    ben.save(update_fields=["display_name"])

    for term in ["ann", "ann@example", "Benedict"]:
        response = admin_client.get("/admin/accounts/user/", {"q": term})
        assert response.status_code == 200
        assert [user.username for user in response.context["cl"].result_list] == [term[:3].lower()]


def test_user_changelist_filters(admin_client, ann, ben):
    ben.is_active = False
    ben.save(update_fields=["is_active"])

    response = admin_client.get("/admin/accounts/user/", {"is_active__exact": "0"})

    assert [user.username for user in response.context["cl"].result_list] == ["ben"]
    filters = {spec.title for spec in response.context["cl"].filter_specs}
    assert {"staff status", "active", "date joined"} <= filters


def test_user_change_form_edits_display_name(admin_client, ann):
    page = admin_client.get(f"/admin/accounts/user/{ann.pk}/change/")

    assert page.status_code == 200
    assert 'name="display_name"' in page.content.decode()


def test_user_add_form_creates_user_with_display_name(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "dora",
            "password1": "a-long-unusual-pass-7",
            "password2": "a-long-unusual-pass-7",
            "usable_password": "true",
            "display_name": "Dora",
            "email": "dora@example.com",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="dora")
    assert (user.display_name, user.email) == ("Dora", "dora@example.com")
    assert user.check_password("a-long-unusual-pass-7")


def test_follow_changelist_lists_and_searches(admin_client, ann, ben, cat):
    FollowFactory(follower=ann, followee=ben)
    FollowFactory(follower=cat, followee=ann)

    everything = admin_client.get("/admin/accounts/follow/")
    by_cat = admin_client.get("/admin/accounts/follow/", {"q": "cat"})

    assert everything.status_code == 200
    assert len(everything.context["cl"].result_list) == 2
    assert [(f.follower.username, f.followee.username) for f in by_cat.context["cl"].result_list] == [("cat", "ann")]


def test_follow_add_goes_through_the_service(admin_client, ann, ben, sent_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/accounts/follow/add/", {"follower": ann.pk, "followee": ben.pk})

    assert response.status_code == 302
    assert Follow.objects.filter(follower=ann, followee=ben).exists()
    assert sent_signals == [("user_followed", {"follower": ann, "followee": ben})]


@pytest.mark.parametrize("case", ["self", "twice", "inactive"])
def test_follow_add_refuses_invalid_follows(admin_client, ann, ben, case):
    if case == "twice":
        FollowFactory(follower=ann, followee=ben)
    if case == "inactive":
        ben.is_active = False
        ben.save(update_fields=["is_active"])
    followee = ann if case == "self" else ben

    response = admin_client.post("/admin/accounts/follow/add/", {"follower": ann.pk, "followee": followee.pk})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Follow.objects.count() == (1 if case == "twice" else 0)


def test_follow_delete_goes_through_the_service(
    admin_client, ann, ben, sent_signals, django_capture_on_commit_callbacks
):
    follow = FollowFactory(follower=ann, followee=ben)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/accounts/follow/{follow.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Follow.objects.exists()
    assert sent_signals == [("user_unfollowed", {"follower": ann, "followee": ben})]


def test_follow_bulk_delete_goes_through_the_service(
    admin_client, ann, ben, cat, sent_signals, django_capture_on_commit_callbacks
):
    follows = [FollowFactory(follower=ann, followee=ben), FollowFactory(follower=ann, followee=cat)]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/accounts/follow/",
            {"action": "delete_selected", "_selected_action": [f.pk for f in follows], "post": "yes"},
        )

    assert response.status_code == 302
    assert not Follow.objects.exists()
    assert [name for name, _ in sent_signals] == ["user_unfollowed", "user_unfollowed"]


def test_follow_cannot_be_edited(admin_client, ann, ben):
    follow = FollowFactory(follower=ann, followee=ben)

    response = admin_client.post(
        f"/admin/accounts/follow/{follow.pk}/change/", {"follower": ben.pk, "followee": ann.pk}
    )

    assert response.status_code == 403
    follow.refresh_from_db()
    assert (follow.follower, follow.followee) == (ann, ben)
