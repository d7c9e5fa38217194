"""The admin for staff: filters, hiding through the service, and broadcasts through the bulk service;
and the `notify` command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.tests.factories import UserFactory
from notifications import services
from notifications.models import Notification
from realtime.testing import stored_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_as_staff(client):
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_the_list_filters_by_kind_read_and_recipient(admin_client_as_staff, ann, ben):
    services.notification_create(recipient=ann, kind="system", title="Ann's system")
    task = services.notification_create(recipient=ben, kind="task", title="Ben's task")
    services.notifications_mark_read(user=ben, ids=[task.pk])
    client = admin_client_as_staff

    page = client.get("/admin/notifications/notification/").content.decode()
    assert "Ann&#x27;s system" in page and "Ben&#x27;s task" in page and "Broadcast" in page
    assert "Ben&#x27;s task" not in client.get("/admin/notifications/notification/?kind=system").content.decode()
    unread = client.get("/admin/notifications/notification/?read=no").content.decode()
    assert "Ann&#x27;s system" in unread and "Ben&#x27;s task" not in unread
    by_recipient = client.get(f"/admin/notifications/notification/?recipient__id__exact={ben.pk}").content.decode()
    assert "Ben&#x27;s task" in by_recipient and "Ann&#x27;s system" not in by_recipient


def test_hide_action_goes_through_the_service(admin_client_as_staff, ann):
    notification = services.notification_create(recipient=ann, kind="system", title="Old news")
    response = admin_client_as_staff.post(
        "/admin/notifications/notification/",
        {"action": "hide_notifications", "_selected_action": [str(notification.pk)]},
        follow=True,
    )
    assert "Hid 1." in response.content.decode()
    assert Notification.objects.get(pk=notification.pk).deleted_at is not None
    assert stored_events(f"inbox:{ann.pk}")[-1].event == "notification.deleted"


def test_broadcast_page_notifies_everyone_or_a_list(admin_client_as_staff, ann, ben):
    client = admin_client_as_staff
    assert client.get("/admin/notifications/notification/broadcast/").status_code == 200

    response = client.post(
        "/admin/notifications/notification/broadcast/",
        {"kind": "system", "title": "Maintenance", "body": "Tonight", "users": ""},
        follow=True,
    )
    assert "Stored 3 notifications." in response.content.decode()  # ann, ben and the staff user
    client.post(
        "/admin/notifications/notification/broadcast/", {"kind": "system", "title": "Just Ann", "users": f"{ann.pk}"}
    )
    assert list(Notification.objects.filter(title="Just Ann").values_list("recipient", flat=True)) == [ann.pk]
    bad = client.post("/admin/notifications/notification/broadcast/", {"kind": "system", "title": "x", "users": "a"})
    assert bad.status_code == 200 and "Only numbers" in bad.content.decode()


def test_broadcast_is_for_staff_only(client, ann):
    client.force_login(ann)
    response = client.get("/admin/notifications/notification/broadcast/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_notify_command(ann, ben):
    out = StringIO()
    call_command("notify", "--users", f"{ann.pk}", "--title", "Hello", "--data", '{"a": 1}', stdout=out)
    assert out.getvalue().strip() == "Stored 1 notifications."
    assert Notification.objects.get(recipient=ann).data == {"a": 1}
    call_command("notify", "--all", "--kind", "task", "--title", "Everyone", stdout=out)
    assert Notification.objects.filter(title="Everyone").count() == 2
    with pytest.raises(CommandError):
        call_command("notify", "--all", "--title", "x", "--data", "[1]")
