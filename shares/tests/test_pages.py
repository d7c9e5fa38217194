"""The shares pages through Django's test client: who sees what, and nothing leaks before the password."""

import json

import pytest

from shares import services

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="shares-config" type="application/json">') + len(
        '<script id="shares-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_dashboard_needs_sign_in_and_shows_only_the_owners_things(
    ann, ben, run_goal, public_share, client, page_client_as
):
    assert client.get("/shares/").status_code == 302
    config = config_of(page_client_as(ann).get("/shares/"))
    assert [g["title"] for g in config["goals"]] == ["Run 100 km", "Read 12 books"]
    assert config["shares"][0]["url"] == f"http://testserver/s/{public_share.token}/"
    assert config["csrf"]
    assert config_of(page_client_as(ben).get("/shares/"))["goals"] == []


def test_viewer_page_for_anyone_with_the_link(public_share, client):
    response = client.get(f"/s/{public_share.token}/")
    assert response.status_code == 200 and b"My year" in response.content
    config = config_of(response)
    assert config == {
        "topic": f"share:{public_share.token}",
        "token": public_share.token,
        "needs_password": False,
        "signed_in": False,
        "me": None,
    }
    assert b'data-module="/static/shares/index.js"' in response.content


def test_password_share_page_shows_nothing_before_the_password(ann, password_share, client, page_client_as):
    response = client.get(f"/s/{password_share.token}/")
    assert response.status_code == 200
    assert b"Secret" not in response.content and b"Run 100 km" not in response.content
    assert config_of(response)["needs_password"] is True
    assert config_of(page_client_as(ann).get(f"/s/{password_share.token}/"))["needs_password"] is False


def test_ended_or_unknown_links_say_the_share_has_ended(ann, public_share, client):
    assert b"This share has ended" in client.get("/s/no-such-token-at-all/").content
    services.share_end(user=ann, share_id=public_share.pk)
    response = client.get(f"/s/{public_share.token}/")
    assert response.status_code == 404 and b"This share has ended" in response.content


def test_titles_are_escaped(ann, client):
    share = services.share_create(user=ann, title="<script>alert(1)</script>")
    html = client.get(f"/s/{share.token}/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
