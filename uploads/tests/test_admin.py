"""The admin for staff: lists with filters, a link to each stored file, and the actions
(cancel sessions, delete files), which go through the services."""

import pytest
from django.test import Client as DjangoClient

from accounts.models import User
from uploads import services, storage
from uploads.models import FileStatus, SessionStatus, UploadFile, UploadSession
from uploads.tests.conftest import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    admin = User.objects.create_superuser(username="root", password="unused-pw-1", email="root@example.com")
    client = DjangoClient()
    client.force_login(admin)
    return client


def completed_file(user) -> UploadFile:
    content = jpeg_bytes()
    session = services.session_create(
        user=user, category="scenic", files=[{"name": "view.jpg", "size": len(content), "type": "image/jpeg"}]
    )
    file = session.files.get()
    with storage.partial_open(file.pk, 0) as handle:
        handle.write(content)
    UploadFile.objects.filter(pk=file.pk).update(received=len(content), status=FileStatus.PROCESSING)
    return services.upload_file_process(file_id=file.pk)


def action(client, model: str, name: str, ids: list[int]):
    return client.post(
        f"/admin/uploads/{model}/", {"action": name, "_selected_action": [str(pk) for pk in ids]}, follow=True
    )


def test_lists_filter_and_link_to_the_stored_file(admin_client, ann):
    file = completed_file(ann)
    sessions = admin_client.get("/admin/uploads/uploadsession/?status__exact=completed&category=scenic")
    assert sessions.status_code == 200 and b"scenic" in sessions.content
    files = admin_client.get("/admin/uploads/uploadfile/?status__exact=completed")
    assert files.status_code == 200 and b"view.jpg" in files.content
    link = f"/admin/uploads/uploadfile/{file.pk}/content/"
    assert link.encode() in files.content
    download = admin_client.get(link)
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    download.close()
    assert DjangoClient().get(link).status_code == 302  # staff only: to the admin login


def test_cancel_action_goes_through_the_service_and_tells_watchers(admin_client, ann, published):
    session = services.session_create(
        user=ann, category="personal", files=[{"name": "a.pdf", "size": 10, "type": "application/pdf"}]
    )
    response = action(admin_client, "uploadsession", "cancel_sessions", [session.pk])
    assert b"Cancelled 1." in response.content
    assert UploadSession.objects.get(pk=session.pk).status == SessionStatus.CANCELLED
    assert [payload["status"] for payload in published.of(f"upload:{session.pk}", "cancelled")] == ["cancelled"]


def test_delete_files_action_removes_the_data(admin_client, ann, django_capture_on_commit_callbacks):
    file = completed_file(ann)
    name = file.content.name
    assert file.content.storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = action(admin_client, "uploadfile", "delete_files", [file.pk])
    assert b"Deleted 1." in response.content
    file.refresh_from_db()
    assert file.status == FileStatus.CANCELLED and not file.content
    assert not file.content.storage.exists(name)
