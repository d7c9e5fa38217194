"""Shares REST API through APIClient: status, body and database state for every permission branch."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import MODERATORS_GROUP
from accounts.tests.factories import UserFactory
from shares import services
from shares.models import Goal, ProgressEntry, Reflection, Share, ShareComment

pytestmark = pytest.mark.django_db


# -- goals, progress, reflections ------------------------------------------------------


def test_goal_crud_and_progress(ann, api_client_as, published):
    api = api_client_as(ann)
    created = api.post(
        "/api/goals/", {"title": "Run", "unit": "km", "target": 42.2, "due_date": "2027-06-01"}, format="json"
    )
    assert created.status_code == 201
    goal = created.json()
    assert goal == {
        "id": goal["id"],
        "title": "Run",
        "description": "",
        "unit": "km",
        "target": 42.2,
        "current": 0,
        "due_date": "2027-06-01",
        "status": "active",
        "updated_at": goal["updated_at"],
    }
    entry = api.post(f"/api/goals/{goal['id']}/progress/", {"delta": 10.5, "note": "long run"}, format="json")
    assert entry.status_code == 201 and entry.json()["value"] == 10.5 and entry.json()["goal_id"] == goal["id"]
    assert api.post(f"/api/goals/{goal['id']}/progress/", {"value": 42.2}, format="json").status_code == 201
    detail = api.get(f"/api/goals/{goal['id']}/").json()
    assert detail["current"] == 42.2 and detail["status"] == "done"
    entries = api.get(f"/api/goals/{goal['id']}/progress/").json()
    assert entries["count"] == 2 and [e["delta"] for e in entries["results"]] == [31.7, 10.5]  # newest first

    changed = api.patch(f"/api/goals/{goal['id']}/", {"status": "archived", "description": "Marathon"}, format="json")
    assert changed.status_code == 200 and changed.json()["status"] == "archived"
    listed = api.get("/api/goals/").json()
    assert listed["count"] == 1 and set(listed) == {"count", "next", "previous", "results"}
    assert api.delete(f"/api/goals/{goal['id']}/").status_code == 204
    assert not Goal.objects.exists()


def test_goal_and_progress_refusals(ann, ben, run_goal, api_client_as, api_client):
    api = api_client_as(ann)
    assert api.post("/api/goals/", {"title": ""}, format="json").json()["fields"]["title"]
    assert api.post("/api/goals/", {"title": "x", "target": "lots"}, format="json").status_code == 400
    both = api.post(f"/api/goals/{run_goal.pk}/progress/", {"value": 1, "delta": 1}, format="json")
    assert both.status_code == 400 and "value" in both.json()["fields"]
    other = api_client_as(ben)
    for response in (
        other.get(f"/api/goals/{run_goal.pk}/"),
        other.patch(f"/api/goals/{run_goal.pk}/", {"title": "mine"}, format="json"),
        other.delete(f"/api/goals/{run_goal.pk}/"),
        other.get(f"/api/goals/{run_goal.pk}/progress/"),
        other.post(f"/api/goals/{run_goal.pk}/progress/", {"delta": 1}, format="json"),
    ):
        assert response.status_code == 404
    assert other.get("/api/goals/").json()["count"] == 0
    assert api_client.get("/api/goals/").status_code == 401
    assert api_client.post("/api/reflections/", {"text": "x"}, format="json").status_code == 401
    assert not ProgressEntry.objects.exists()


def test_reflections(ann, ben, api_client_as):
    api = api_client_as(ann)
    created = api.post("/api/reflections/", {"text": "Felt good"}, format="json")
    assert created.status_code == 201 and created.json()["text"] == "Felt good"
    assert api.post("/api/reflections/", {"text": " "}, format="json").status_code == 400
    assert api.get("/api/reflections/").json()["count"] == 1
    assert api_client_as(ben).get("/api/reflections/").json()["count"] == 0
    assert api_client_as(ben).delete(f"/api/reflections/{created.json()['id']}/").status_code == 404
    assert api.delete(f"/api/reflections/{created.json()['id']}/").status_code == 204
    assert not Reflection.objects.exists()


# -- shares (owner) ----------------------------------------------------------------------


def test_share_create_shows_the_link_and_never_the_password(ann, run_goal, api_client_as):
    api = api_client_as(ann)
    response = api.post(
        "/api/shares/",
        {
            "title": "Coach",
            "kind": "password",
            "password": "open-sesame",
            "goals": [run_goal.pk],
            "comment_interval": 10,
        },
        format="json",
    )
    assert response.status_code == 201
    share = response.json()
    assert share["url"] == f"http://testserver/s/{share['token']}/"
    assert "password" not in share and "open-sesame" not in response.content.decode()
    assert share["goals"] == [run_goal.pk] and share["kind"] == "password" and share["is_active"] is True
    assert set(share) == {
        "id", "token", "url", "title", "kind", "is_active", "expires_at", "goals", "show_progress",
        "show_reflections", "allow_comments", "allow_anonymous_comments", "comment_interval", "created_at", "ended_at",
    }  # fmt: skip
    assert api.get("/api/shares/").json()["results"][0]["id"] == share["id"]
    assert api.get(f"/api/shares/{share['id']}/").json() == share


def test_share_create_and_update_refusals(ann, ben, public_share, api_client_as, api_client):
    api = api_client_as(ann)
    no_password = api.post("/api/shares/", {"title": "S", "kind": "password"}, format="json")
    assert no_password.status_code == 400 and "password" in no_password.json()["fields"]
    short = api.post("/api/shares/", {"title": "S", "kind": "password", "password": "abc"}, format="json")
    assert short.status_code == 400
    assert api.post("/api/shares/", {"title": "S", "goals": "some"}, format="json").status_code == 400
    other = api_client_as(ben)
    assert other.get(f"/api/shares/{public_share.pk}/").status_code == 404
    assert other.patch(f"/api/shares/{public_share.pk}/", {"title": "x"}, format="json").status_code == 404
    assert other.post(f"/api/shares/{public_share.pk}/end/").status_code == 404
    assert other.get(f"/api/shares/{public_share.pk}/comments/").status_code == 404
    assert api_client.get("/api/shares/").status_code == 401
    assert Share.objects.count() == 1


def test_share_update_and_end(ann, run_goal, public_share, api_client_as, published):
    api = api_client_as(ann)
    changed = api.patch(
        f"/api/shares/{public_share.pk}/", {"goals": [run_goal.pk], "comment_interval": 30}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["goals"] == [run_goal.pk]
    assert changed.json()["comment_interval"] == 30 and changed.json()["title"] == "My year"
    ended = api.post(f"/api/shares/{public_share.pk}/end/")
    assert ended.status_code == 200 and ended.json()["is_active"] is False and ended.json()["ended_at"]
    assert api.patch(f"/api/shares/{public_share.pk}/", {"title": "again"}, format="json").status_code == 404


def test_owner_comment_list_marks_hidden_ones_and_hide_restore(ann, ben, public_share, api_client_as, published):
    kept = services.comment_create(token=public_share.token, user=ben, address="1", message="Nice")
    rude = services.comment_create(token=public_share.token, user=None, address="2", message="rude")
    api = api_client_as(ann)
    hidden = api.post(f"/api/shares/{public_share.pk}/comments/{rude.pk}/hide/")
    assert hidden.status_code == 200 and hidden.json()["hidden"] is True and hidden.json()["message"] == "rude"
    listed = api.get(f"/api/shares/{public_share.pk}/comments/").json()
    assert [(c["id"], c["hidden"]) for c in listed["results"]] == [(rude.pk, True), (kept.pk, False)]
    assert published.of(public_share.topic_key, "comment.hidden") == [{"id": rude.pk}]
    assert api_client_as(ben).post(f"/api/shares/{public_share.pk}/comments/{rude.pk}/restore/").status_code == 404
    restored = api.post(f"/api/shares/{public_share.pk}/comments/{rude.pk}/restore/")
    assert restored.status_code == 200 and restored.json()["hidden"] is False
    moderator = UserFactory(username="mod", is_staff=True)
    moderator.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    assert api_client_as(moderator).post(f"/api/shares/{public_share.pk}/comments/{rude.pk}/hide/").status_code == 404
    other_share = services.share_create(user=ann, title="Other")
    assert api.post(f"/api/shares/{other_share.pk}/comments/{rude.pk}/hide/").status_code == 404


# -- viewers -----------------------------------------------------------------------------


def test_shared_view_is_the_join_replys_share_plus_room(ann, run_goal, public_share, api_client):
    services.progress_record(user=ann, goal_id=run_goal.pk, delta=3)
    response = api_client.get(f"/api/s/{public_share.token}/")
    assert response.status_code == 200
    view = response.json()
    assert view["title"] == "My year" and view["owner"]["username"] == "ann"
    assert [g["title"] for g in view["goals"]] == ["Run 100 km", "Read 12 books"]
    assert [p["delta"] for p in view["progress"]] == [3] and view["reflections"] == []
    assert view["room"] == {"viewers": 0, "owner_online": False, "online": []}
    assert "email" not in response.content.decode()


def test_shared_view_refusals(ann, password_share, public_share, api_client):
    assert api_client.get("/api/s/not-a-real-token-000/").status_code == 404
    assert api_client.get(f"/api/s/{password_share.token}/").status_code == 403
    assert api_client.get(f"/api/s/{password_share.token}/", HTTP_X_SHARE_PASSWORD="wrong").status_code == 403
    ok = api_client.get(f"/api/s/{password_share.token}/", HTTP_X_SHARE_PASSWORD="open-sesame")
    assert ok.status_code == 200 and ok.json()["title"] == "Secret"
    for _ in range(4):
        api_client.get(f"/api/s/{password_share.token}/", HTTP_X_SHARE_PASSWORD="wrong")
    limited = api_client.get(f"/api/s/{password_share.token}/", HTTP_X_SHARE_PASSWORD="open-sesame")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert (
        api_client.get(f"/api/s/{password_share.token}/comments/", HTTP_X_SHARE_PASSWORD="open-sesame").status_code
        == 429
    )
    services.share_end(user=ann, share_id=public_share.pk)
    assert api_client.get(f"/api/s/{public_share.token}/").status_code == 404


def test_viewer_comments_over_rest(ann, ben, public_share, api_client, api_client_as, published):
    posted = api_client.post(f"/api/s/{public_share.token}/comments/", {"message": "Go!", "name": "Mum"}, format="json")
    assert posted.status_code == 201
    assert posted.json() == {
        "id": posted.json()["id"],
        "name": "Mum",
        "message": "Go!",
        "created_at": posted.json()["created_at"],
        "is_owner": False,
        "hidden": False,
    }
    api_client_as(ben).post(f"/api/s/{public_share.token}/comments/", {"message": "Proud"}, format="json")
    hidden = services.comment_create(token=public_share.token, user=None, address="9", message="spam")
    services.comment_hide(user=ann, comment_id=hidden.pk)
    listed = api_client.get(f"/api/s/{public_share.token}/comments/").json()
    assert [c["message"] for c in listed["results"]] == ["Proud", "Go!"]
    first = api_client.get(f"/api/s/{public_share.token}/comments/?page_size=1").json()
    assert [c["message"] for c in first["results"]] == ["Proud"] and first["previous"] is None
    older = api_client.get(first["next"]).json()
    assert [c["message"] for c in older["results"]] == ["Go!"] and older["next"] is None
    assert [e["comment"]["message"] for e in published.of(public_share.topic_key, "comment.created")][:2] == [
        "Go!",
        "Proud",
    ]
    assert api_client.post(f"/api/s/{public_share.token}/comments/", {"message": ""}, format="json").status_code == 400

    services.share_update(user=ann, share_id=public_share.pk, allow_anonymous_comments=False)
    assert (
        api_client.post(f"/api/s/{public_share.token}/comments/", {"message": "hi"}, format="json").status_code == 401
    )
    services.share_update(user=ann, share_id=public_share.pk, allow_comments=False)
    refused = api_client_as(ben).post(f"/api/s/{public_share.token}/comments/", {"message": "hi"}, format="json")
    assert refused.status_code == 403
    assert ShareComment.objects.count() == 3


def test_slow_mode_over_rest_is_429_with_retry_after(ann, public_share, api_client):
    services.share_update(user=ann, share_id=public_share.pk, comment_interval=60)
    assert (
        api_client.post(f"/api/s/{public_share.token}/comments/", {"message": "one"}, format="json").status_code == 201
    )
    again = api_client.post(f"/api/s/{public_share.token}/comments/", {"message": "two"}, format="json")
    assert again.status_code == 429 and again.json()["fields"]["retry_after"] and again["Retry-After"]
