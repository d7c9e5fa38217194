"""The notifications REST API: every endpoint, every permission branch, and the database state."""

import pytest

from accounts.tests.factories import UserFactory
from notifications import services
from notifications.models import Notification, Preference

pytestmark = pytest.mark.django_db


def notify(user, title="Hello", kind="system", **fields):
    return services.notification_create(recipient=user, kind=kind, title=title, **fields)


def test_list_is_newest_first_paginated_and_filtered(ann, ben, api_client_as):
    first = notify(ann, "one")
    notify(ann, "two", kind="task")
    third = notify(ann, "three", kind="task")
    notify(ben, "not ann's")
    services.notifications_mark_read(user=ann, ids=[first.pk])
    client = api_client_as(ann)

    body = client.get("/api/notifications/").json()
    assert [n["title"] for n in body["results"]] == ["three", "two", "one"]
    assert body["count"] == 3 and body["next"] is None
    assert body["results"][0] == {
        "id": third.pk,
        "kind": "task",
        "title": "three",
        "body": "",
        "data": {},
        "actors": [],
        "created_at": body["results"][0]["created_at"],
        "updated_at": body["results"][0]["updated_at"],
        "read": False,
    }
    assert [n["title"] for n in client.get("/api/notifications/?unread=1").json()["results"]] == ["three", "two"]
    assert [n["title"] for n in client.get("/api/notifications/?unread=0").json()["results"]] == ["one"]
    assert [n["title"] for n in client.get("/api/notifications/?kind=system").json()["results"]] == ["one"]
    assert client.get("/api/notifications/?kind=nope").status_code == 400
    paged = client.get("/api/notifications/?page_size=2").json()
    assert len(paged["results"]) == 2 and paged["next"].endswith("page=2&page_size=2")


def test_every_endpoint_needs_sign_in(api_client):
    for method, url in [
        ("get", "/api/notifications/"),
        ("post", "/api/notifications/read/"),
        ("get", "/api/notifications/unread-count/"),
        ("delete", "/api/notifications/1/"),
        ("get", "/api/notifications/preferences/"),
        ("put", "/api/notifications/preferences/"),
        ("post", "/api/notifications/send/"),
    ]:
        assert getattr(api_client, method)(url).status_code == 401, url


def test_read_and_unread_count(ann, ben, api_client_as):
    mine = [notify(ann, f"n{i}").pk for i in range(3)]
    theirs = notify(ben).pk
    client = api_client_as(ann)
    assert client.get("/api/notifications/unread-count/").json() == {"count": 3}

    response = client.post("/api/notifications/read/", {"ids": [mine[0], theirs, 999999]}, format="json")
    assert response.status_code == 200 and response.json() == {"ids": [mine[0]], "count": 2}
    assert Notification.objects.get(pk=theirs).read_at is None

    assert client.post("/api/notifications/read/", {"all": True}, format="json").json() == {
        "ids": mine[1:],
        "count": 0,
    }
    assert client.post("/api/notifications/read/", {}, format="json").status_code == 400
    assert client.get("/api/notifications/unread-count/").json() == {"count": 0}


def test_delete_hides_ones_own_and_someone_elses_is_404(ann, ben, api_client_as):
    mine, theirs = notify(ann), notify(ben)
    client = api_client_as(ann)

    assert client.delete(f"/api/notifications/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/notifications/{mine.pk}/").status_code == 204
    assert client.delete(f"/api/notifications/{mine.pk}/").status_code == 404
    assert client.get("/api/notifications/").json()["results"] == []
    assert Notification.objects.get(pk=theirs.pk).deleted_at is None


def test_preferences_get_and_put(ann, api_client_as):
    client = api_client_as(ann)
    assert client.get("/api/notifications/preferences/").json() == {"muted_kinds": []}

    response = client.put("/api/notifications/preferences/", {"muted_kinds": ["task", "follow"]}, format="json")
    assert response.status_code == 200 and response.json() == {"muted_kinds": ["follow", "task"]}
    assert Preference.objects.get(user=ann).muted_kinds == ["follow", "task"]
    for bad in (["system"], ["nope"], "follow"):
        assert client.put("/api/notifications/preferences/", {"muted_kinds": bad}, format="json").status_code == 400
    assert client.get("/api/notifications/preferences/").json() == {"muted_kinds": ["follow", "task"]}


def test_send_by_staff_to_a_list_and_to_everyone(ann, ben, api_client_as):
    staff = UserFactory(username="op", is_staff=True)
    client = api_client_as(staff)

    response = client.post(
        "/api/notifications/send/",
        {"users": [ann.pk, 999999], "kind": "purchase", "title": "Sold", "data": {"order": 5}},
        format="json",
    )
    assert response.status_code == 201 and response.json() == {"count": 1}
    assert Notification.objects.get(recipient=ann).data == {"order": 5}

    response = client.post("/api/notifications/send/", {"users": "all", "kind": "system", "title": "Hi"}, format="json")
    assert response.json() == {"count": 3}  # ann, ben and the staff user


def test_send_with_the_token_header(ann, api_client, settings):
    settings.NOTIFICATIONS_API_TOKEN = "s3cret-token"
    body = {"users": [ann.pk], "kind": "system", "title": "From the shop"}

    assert api_client.post("/api/notifications/send/", body, format="json").status_code == 401
    wrong = api_client.post("/api/notifications/send/", body, format="json", HTTP_X_NOTIFICATIONS_TOKEN="nope")
    assert wrong.status_code == 401
    right = api_client.post("/api/notifications/send/", body, format="json", HTTP_X_NOTIFICATIONS_TOKEN="s3cret-token")
    assert right.status_code == 201 and right.json() == {"count": 1}
    assert Notification.objects.filter(recipient=ann, title="From the shop").exists()


def test_send_refuses_non_staff_an_unset_token_and_bad_bodies(ann, api_client, api_client_as, settings):
    settings.NOTIFICATIONS_API_TOKEN = ""
    body = {"users": [ann.pk], "kind": "system", "title": "x"}
    assert api_client_as(ann).post("/api/notifications/send/", body, format="json").status_code == 403
    assert (
        api_client.post("/api/notifications/send/", body, format="json", HTTP_X_NOTIFICATIONS_TOKEN="").status_code
        == 401
    )
    staff = api_client_as(UserFactory(is_staff=True))
    for bad in ({**body, "kind": "nope"}, {**body, "users": "some"}, {**body, "users": ["1"]}, {**body, "title": ""}):
        response = staff.post("/api/notifications/send/", bad, format="json")
        assert response.status_code == 400, bad
    assert not Notification.objects.exists()
