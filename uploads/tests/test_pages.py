"""The uploads page's server side: sign-in, and what the shell and its config carry."""

import json
import re

import pytest

from uploads import services

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    match = re.search(r'<script id="uploads-config" type="application/json">(.*?)</script>', response.content.decode())
    assert match, "no uploads-config"
    return json.loads(match.group(1))


def test_the_page_needs_sign_in(client):
    response = client.get("/uploads/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_page_loads_the_vendored_tus_client_and_no_cdn(page_client_as, ann):
    response = page_client_as(ann).get("/uploads/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/uploads/vendor/tus-js-client-4.3.1.min.js" in html
    assert 'data-module="/static/uploads/index.js"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    config = config_of(response)
    assert config["categories"] == ["personal", "scenic"]
    assert config["resume"] is None
    assert config["csrf_token"]


def test_an_unfinished_session_is_offered_for_resuming_to_its_owner_only(page_client_as, ann, ben):
    session = services.session_create(
        user=ann, category="scenic", files=[{"name": "<b>x</b>.jpg", "size": 10, "type": "image/jpeg"}]
    )
    config = config_of(page_client_as(ann).get("/uploads/"))
    assert config["resume"]["id"] == session.pk
    assert config["resume"]["files"][0]["name"] == "<b>x</b>.jpg"
    assert "<b>x</b>" not in page_client_as(ann).get("/uploads/").content.decode()  # escaped in the JSON
    assert config_of(page_client_as(ben).get("/uploads/"))["resume"] is None
