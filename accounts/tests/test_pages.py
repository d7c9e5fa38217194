import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.tests.factories import DEFAULT_PASSWORD, FollowFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_home_for_visitors_lists_features_and_login_link(client):
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<span id="connection-state" class="conn" data-state="offline" aria-live="polite"></span>' in page
    # Every feature that works today, each linking to its page.
    for feature, link in [
        ("Chat", "/chat/"),
        ("Live shares", "/shares/"),
        ("Uploads", "/uploads/"),
        ("Notifications", "/notifications/"),
    ]:
        assert f"<strong>{feature}</strong>" in page and f'href="{link}"' in page
    assert 'href="/api/docs/"' in page
    assert 'href="/admin/"' in page
    assert 'href="/accounts/login/"' in page
    assert "Your friends" not in page
    assert 'href="/static/css/site.css"' in page


def test_home_for_members_shows_name_logout_and_friends(page_client_as, ann, ben, cat):
    FollowFactory(follower=ann, followee=ben)
    FollowFactory(follower=ben, followee=ann)
    FollowFactory(follower=ann, followee=cat)  # one-way: not a friend

    page = page_client_as(ann).get("/").content.decode()

    assert '<span class="user-name">Ann</span>' in page
    assert 'action="/accounts/logout/"' in page
    assert "csrfmiddlewaretoken" in page
    assert "Your friends" in page
    assert "@ben" in page
    assert "@cat" not in page
    assert 'href="/accounts/login/"' not in page


def test_home_without_friends_says_so(page_client_as, ann):
    page = page_client_as(ann).get("/").content.decode()

    assert "No friends yet" in page


def test_pages_escape_user_data(page_client_as, ann):
    mallory = UserFactory(username="mallory", display_name='<script>alert("x")</script>')
    FollowFactory(follower=ann, followee=mallory)
    FollowFactory(follower=mallory, followee=ann)

    for viewer in (ann, mallory):
        page = page_client_as(viewer).get("/").content.decode()
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_login_page_renders_form(client):
    response = client.get("/accounts/login/?next=/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="username"' in page
    assert 'name="password"' in page
    assert 'name="next" value="/api/docs/"' in page
    assert "csrfmiddlewaretoken" in page


def test_login_with_right_password_signs_in_and_redirects(client, ann):
    response = client.post("/accounts/login/", {"username": "ann", "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(ann.pk)


def test_login_with_wrong_password_shows_error(client, ann):
    response = client.post("/accounts/login/", {"username": "ann", "password": "wrong"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert SESSION_KEY not in client.session


def test_login_refuses_csrf_less_post(ann):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"username": "ann", "password": DEFAULT_PASSWORD})

    assert response.status_code == 403
    assert SESSION_KEY not in client.session


def test_logout_needs_post(page_client_as, ann):
    client = page_client_as(ann)

    assert client.get("/accounts/logout/").status_code == 405
    assert SESSION_KEY in client.session

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert SESSION_KEY not in client.session


def test_site_css_is_found():
    assert finders.find("css/site.css") is not None
