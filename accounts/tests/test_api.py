import base64
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import Follow, User
from accounts.tests.factories import DEFAULT_PASSWORD, FollowFactory, UserFactory

pytestmark = pytest.mark.django_db

PUBLIC_KEYS = {"id", "username", "display_name", "is_followed", "follows_you", "is_friend"}


def assert_no_email_but_own(response, viewer: User | None = None) -> None:
    """Nobody's email but the viewer's may appear anywhere in the response body."""
    body = response.content.decode()
    for user in User.objects.exclude(pk=viewer.pk if viewer else None):
        assert user.email not in body


def entry(user: User, **relationship: bool) -> dict:
    return {"id": user.pk, "username": user.username, "display_name": user.display_name, **relationship}


def tamper(token: str, **claims: object) -> str:
    """The token with its payload claims changed and the original signature kept."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


# Registration


def test_register_creates_user_and_returns_tokens(api_client):
    response = api_client.post(
        "/api/auth/register/",
        {"username": "dora", "password": "a-long-unusual-pass-7", "email": "dora@example.com", "display_name": "Dora"},
        format="json",
    )

    assert response.status_code == 201
    user = User.objects.get(username="dora")
    assert user.check_password("a-long-unusual-pass-7")
    body = response.json()
    assert set(body) == {"user", "access", "refresh"}
    assert body["user"] == {
        "id": user.pk,
        "username": "dora",
        "display_name": "Dora",
        "email": "dora@example.com",
        "date_joined": body["user"]["date_joined"],
    }
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api_client.get("/api/users/me/").json()["username"] == "dora"
    assert api_client.post("/api/auth/token/refresh/", {"refresh": body["refresh"]}, format="json").status_code == 200


def test_register_with_only_username_and_password(api_client):
    response = api_client.post(
        "/api/auth/register/", {"username": "dora", "password": "a-long-unusual-pass-7"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["user"]["email"] == ""
    assert User.objects.get(username="dora").display_name == ""


def test_register_refuses_weak_password(api_client):
    response = api_client.post("/api/auth/register/", {"username": "dora", "password": "12345678"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body) == {"code", "detail", "fields"} and set(body["fields"]) == {"password"}
    assert not User.objects.filter(username="dora").exists()


def test_register_refuses_taken_username(api_client, ann):
    response = api_client.post(
        "/api/auth/register/", {"username": "ann", "password": "a-long-unusual-pass-7"}, format="json"
    )

    assert response.status_code == 400
    assert "username" in response.json()["fields"]
    assert User.objects.filter(username="ann").count() == 1


def test_register_refuses_missing_fields(api_client):
    response = api_client.post("/api/auth/register/", {"email": "bad"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password", "email"}
    assert not User.objects.exists()


def test_register_is_refused_when_registration_is_off(api_client, settings):
    settings.ALLOW_REGISTRATION = False

    response = api_client.post(
        "/api/auth/register/", {"username": "dora", "password": "a-long-unusual-pass-7"}, format="json"
    )

    assert response.status_code == 403
    assert response.json() == {"code": "forbidden", "detail": "Registration is closed on this server."}
    assert not User.objects.exists()


def test_register_ignores_a_stale_token(api_client, ann):
    expired = AccessToken.for_user(ann)
    expired.set_exp(lifetime=-timedelta(minutes=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")

    response = api_client.post(
        "/api/auth/register/", {"username": "dora", "password": "a-long-unusual-pass-7"}, format="json"
    )

    assert response.status_code == 201


# Tokens


def test_token_obtain_returns_a_working_pair(api_client, ann):
    response = api_client.post("/api/auth/token/", {"username": "ann", "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert AccessToken(body["access"])["user_id"] == str(ann.pk)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api_client.get("/api/users/me/").status_code == 200


@pytest.mark.parametrize(("username", "password"), [("ann", "wrong-password"), ("nobody", DEFAULT_PASSWORD)])
def test_token_obtain_refuses_bad_credentials(api_client, ann, username, password):
    response = api_client.post("/api/auth/token/", {"username": username, "password": password}, format="json")

    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "detail": "No active account found with the given credentials"}
    ann.refresh_from_db()
    assert ann.last_login is None


def test_token_obtain_refuses_missing_password(api_client, ann):
    response = api_client.post("/api/auth/token/", {"username": "ann"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "Some fields are invalid.",
        "fields": {"password": "This field is required."},
    }


def test_token_obtain_refuses_inactive_user(api_client):
    UserFactory(username="gone", is_active=False)

    response = api_client.post("/api/auth/token/", {"username": "gone", "password": DEFAULT_PASSWORD}, format="json")

    assert response.status_code == 401


def test_expired_access_token_is_refused(api_client, ann):
    token = AccessToken.for_user(ann)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get("/api/users/me/")

    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "detail": "Given token not valid for any token type"}
    assert "ann@example.com" not in response.content.decode()


def test_tampered_access_token_is_refused(api_client, ann, ben):
    forged = tamper(str(AccessToken.for_user(ann)), user_id=str(ben.pk))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")

    response = api_client.get("/api/users/me/")

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert_no_email_but_own(response)


def test_refresh_token_is_not_an_access_token(api_client, ann):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(ann)}")

    assert api_client.get("/api/users/me/").status_code == 401


def test_refresh_rotates_and_refuses_the_used_token(api_client, ann):
    first = api_client.post("/api/auth/token/", {"username": "ann", "password": DEFAULT_PASSWORD}, format="json")
    old_refresh = first.json()["refresh"]

    rotated = api_client.post("/api/auth/token/refresh/", {"refresh": old_refresh}, format="json")
    reused = api_client.post("/api/auth/token/refresh/", {"refresh": old_refresh}, format="json")

    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != old_refresh
    assert reused.status_code == 401
    assert reused.json()["code"] == "unauthorized"
    again = api_client.post("/api/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}, format="json")
    assert again.status_code == 200


@pytest.mark.parametrize("refresh", ["not-a-token", "tampered"])
def test_refresh_refuses_bad_tokens(api_client, ann, refresh):
    if refresh == "tampered":
        refresh = tamper(str(RefreshToken.for_user(ann)), exp=4102444800)

    response = api_client.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert "access" not in response.json()


# Own profile


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/users/me/"),
        ("patch", "/api/users/me/"),
        ("get", "/api/users/"),
        ("get", "/api/users/1/"),
        ("post", "/api/users/1/follow/"),
        ("delete", "/api/users/1/follow/"),
        ("get", "/api/users/me/friends/"),
        ("get", "/api/users/me/followers/"),
        ("get", "/api/users/me/following/"),
    ],
)
def test_endpoints_refuse_anonymous_requests(api_client, ann, method, path):
    response = getattr(api_client, method)(path)

    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_returns_own_profile_with_email(api_client_as, ann):
    response = api_client_as(ann).get("/api/users/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": ann.pk,
        "username": "ann",
        "display_name": "Ann",
        "email": "ann@example.com",
        "date_joined": response.json()["date_joined"],
    }


def test_me_accepts_session_login(api_client, ann):
    assert api_client.login(username="ann", password=DEFAULT_PASSWORD)

    response = api_client.get("/api/users/me/")

    assert response.status_code == 200
    assert response.json()["username"] == "ann"


def test_me_patch_with_session_needs_csrf_token(ann):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="ann", password=DEFAULT_PASSWORD)

    response = client.patch("/api/users/me/", {"display_name": "Annie"}, format="json")

    assert response.status_code == 403
    ann.refresh_from_db()
    assert ann.display_name == "Ann"


def test_me_patch_changes_display_name_only(api_client_as, ann):
    response = api_client_as(ann).patch(
        "/api/users/me/",
        {"display_name": " Annie ", "username": "hacker", "email": "new@example.com", "is_staff": True},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["display_name"] == "Annie"
    ann.refresh_from_db()
    assert (ann.display_name, ann.username, ann.email, ann.is_staff) == ("Annie", "ann", "ann@example.com", False)


def test_me_patch_refuses_long_display_name(api_client_as, ann):
    response = api_client_as(ann).patch("/api/users/me/", {"display_name": "x" * 101}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"display_name"}
    ann.refresh_from_db()
    assert ann.display_name == "Ann"


# Directory


def test_user_list_shows_public_fields_and_relationship(api_client_as, ann, ben, cat, friends):
    FollowFactory(follower=cat, followee=ann)

    response = api_client_as(ann).get("/api/users/")

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert body["results"] == [
        entry(ann, is_followed=False, follows_you=False, is_friend=False),
        entry(ben, is_followed=True, follows_you=True, is_friend=True),
        entry(cat, is_followed=False, follows_you=True, is_friend=False),
    ]
    assert_no_email_but_own(response)
    assert "@example.com" not in response.content.decode()


def test_user_list_searches_by_prefix(api_client_as, ann, ben):
    UserFactory(username="zed", display_name="Bennett")

    response = api_client_as(ann).get("/api/users/", {"search": "be"})

    assert [user["username"] for user in response.json()["results"]] == ["ben", "zed"]


def test_user_list_paginates(api_client_as, ann):
    UserFactory.create_batch(4)

    first = api_client_as(ann).get("/api/users/", {"page_size": 2})
    last = api_client_as(ann).get("/api/users/", {"page_size": 2, "page": 3})

    assert first.json()["count"] == 5
    assert len(first.json()["results"]) == 2
    assert first.json()["next"].endswith("page=2&page_size=2")
    assert len(last.json()["results"]) == 1
    assert last.json()["next"] is None


def test_user_list_refuses_page_past_the_end(api_client_as, ann):
    response = api_client_as(ann).get("/api/users/", {"page": 9})

    assert response.status_code == 404


def test_user_detail_shows_public_fields(api_client_as, ann, ben, friends):
    response = api_client_as(ann).get(f"/api/users/{ben.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": ben.pk,
        "username": "ben",
        "display_name": "Ben",
        "is_followed": True,
        "follows_you": True,
        "is_friend": True,
    }
    assert_no_email_but_own(response)


def test_user_detail_of_unknown_or_inactive_user_is_404(api_client_as, ann):
    inactive = UserFactory(is_active=False)

    for user_id in (10**9, inactive.pk):
        response = api_client_as(ann).get(f"/api/users/{user_id}/")
        assert response.status_code == 404
        assert response.json() == {"detail": "No such user.", "code": "not_found"}


# Follows


def test_follow_creates_follow_and_signals(api_client_as, ann, ben, sent_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_as(ann).post(f"/api/users/{ben.pk}/follow/")

    assert response.status_code == 201
    assert response.json() == {
        "id": ben.pk,
        "username": "ben",
        "display_name": "Ben",
        "is_followed": True,
        "follows_you": False,
        "is_friend": False,
    }
    assert Follow.objects.filter(follower=ann, followee=ben).exists()
    assert sent_signals == [("user_followed", {"follower": ann, "followee": ben})]
    assert_no_email_but_own(response)


def test_follow_back_makes_friends(api_client_as, ann, ben, sent_signals, django_capture_on_commit_callbacks):
    FollowFactory(follower=ben, followee=ann)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_as(ann).post(f"/api/users/{ben.pk}/follow/")

    assert response.status_code == 201
    assert response.json()["is_friend"] is True
    assert [name for name, _ in sent_signals] == ["user_followed", "friendship_formed"]


def test_follow_oneself_is_refused(api_client_as, ann, sent_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_as(ann).post(f"/api/users/{ann.pk}/follow/")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "You cannot follow yourself.",
        "fields": {"user": "You cannot follow yourself."},
    }
    assert not Follow.objects.exists()
    assert sent_signals == []


def test_follow_twice_conflicts(api_client_as, ann, ben):
    client = api_client_as(ann)
    assert client.post(f"/api/users/{ben.pk}/follow/").status_code == 201

    response = client.post(f"/api/users/{ben.pk}/follow/")

    assert response.status_code == 409
    assert response.json() == {"detail": "You already follow this user.", "code": "conflict"}
    assert Follow.objects.filter(follower=ann, followee=ben).count() == 1


def test_follow_unknown_user_is_404(api_client_as, ann):
    response = api_client_as(ann).post(f"/api/users/{10**9}/follow/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Follow.objects.exists()


def test_unfollow_removes_follow_and_signals(
    api_client_as, ann, ben, friends, sent_signals, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_as(ann).delete(f"/api/users/{ben.pk}/follow/")

    assert response.status_code == 204
    assert response.content == b""
    assert not Follow.objects.filter(follower=ann, followee=ben).exists()
    assert Follow.objects.filter(follower=ben, followee=ann).exists()
    assert [name for name, _ in sent_signals] == ["user_unfollowed", "friendship_ended"]


def test_unfollow_when_not_following_is_404(api_client_as, ann, ben):
    FollowFactory(follower=ben, followee=ann)

    response = api_client_as(ann).delete(f"/api/users/{ben.pk}/follow/")

    assert response.status_code == 404
    assert response.json() == {"detail": "You do not follow this user.", "code": "not_found"}
    assert Follow.objects.count() == 1


def test_own_relationship_lists(api_client_as, ann, ben, cat, friends):
    dan = UserFactory(username="dan")
    FollowFactory(follower=ann, followee=cat)
    FollowFactory(follower=dan, followee=ann)
    FollowFactory(follower=cat, followee=dan)  # not about ann: appears nowhere
    client = api_client_as(ann)

    friends_page = client.get("/api/users/me/friends/")
    followers_page = client.get("/api/users/me/followers/")
    following_page = client.get("/api/users/me/following/")

    for page in (friends_page, followers_page, following_page):
        assert page.status_code == 200
        assert all(set(user) == PUBLIC_KEYS for user in page.json()["results"])
        assert_no_email_but_own(page)
    assert [user["username"] for user in friends_page.json()["results"]] == ["ben"]
    assert [user["username"] for user in followers_page.json()["results"]] == ["ben", "dan"]
    assert [user["username"] for user in following_page.json()["results"]] == ["ben", "cat"]
    assert following_page.json()["results"][1] == {
        "id": cat.pk,
        "username": "cat",
        "display_name": "Cat",
        "is_followed": True,
        "follows_you": False,
        "is_friend": False,
    }


def test_other_users_email_never_appears(api_client_as, ann, ben, friends):
    client = api_client_as(ann)
    paths = [
        "/api/users/",
        "/api/users/?search=b",
        f"/api/users/{ben.pk}/",
        "/api/users/me/",
        "/api/users/me/friends/",
        "/api/users/me/followers/",
        "/api/users/me/following/",
    ]

    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "ben@example.com" not in response.content.decode(), path


# Schema


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    schema = (tmp_path / "schema.yaml").read_text()
    for path in ["/api/auth/register/", "/api/auth/token/refresh/", "/api/users/{user_id}/follow/"]:
        assert f"{path}:" in schema
