"""The bell in the base header and the /notifications/ page, rendered by Django."""

import pytest

from notifications import services
from notifications.models import Preference

pytestmark = pytest.mark.django_db


def test_the_bell_is_on_every_page_for_signed_in_users_only(ann, client, page_client_as):
    assert 'id="bell"' not in client.get("/accounts/login/").content.decode()
    home = page_client_as(ann).get("/").content.decode()
    assert 'id="bell"' in home and 'data-module="/static/notifications/index.js"' in home


def test_the_page_lists_escaped_notifications_with_a_kind_filter(ann, ben, page_client_as):
    services.notification_create(recipient=ann, kind="system", title="<b>Maintenance</b>", body="Tonight")
    services.notification_create(recipient=ann, kind="task", title="Do it")
    services.notification_create(recipient=ben, kind="system", title="Ben's own")
    client = page_client_as(ann)

    page = client.get("/notifications/").content.decode()
    assert (
        "&lt;b&gt;Maintenance&lt;/b&gt;" in page and "<b>Maintenance</b>" not in page.split("notifications-initial")[0]
    )
    assert "Do it" in page and "Ben&#x27;s own" not in page and "Ben's own" not in page
    task_only = client.get("/notifications/?kind=task").content.decode()
    assert "Do it" in task_only and "Maintenance" not in task_only


def test_the_page_needs_sign_in(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_preferences_form_saves_muted_kinds_with_csrf(ann, page_client_as):
    client = page_client_as(ann)
    response = client.post("/notifications/preferences/", {"muted_kinds": ["follow", "purchase"]})
    assert response.status_code == 302 and response["Location"] == "/notifications/?saved=1"
    assert Preference.objects.get(user=ann).muted_kinds == ["follow", "purchase"]
    assert client.post("/notifications/preferences/", {"muted_kinds": ["system"]}).status_code == 400
    page = client.get("/notifications/?saved=1").content.decode()
    assert 'value="follow" checked' in page and "Saved." in page

    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ann)
    assert strict.post("/notifications/preferences/", {"muted_kinds": []}).status_code == 403
