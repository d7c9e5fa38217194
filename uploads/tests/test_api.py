"""The uploads REST API and the tus endpoints served by Django views (creation, HEAD, OPTIONS, DELETE)."""

import base64
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from uploads import services
from uploads.models import FileStatus, SessionStatus, UploadFile, UploadSession
from uploads.payloads import session_progress
from uploads.tests.conftest import jpeg_bytes, pdf_bytes

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def metadata(**items: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in items.items())


@pytest.fixture
def ann_client(api_client_as, ann):
    return api_client_as(ann)


def problem(response, field: str) -> str:
    """The refusal's text for `field` (field errors come as `{field: [...]}` or under `fields`)."""
    body = response.json()
    value = body.get("fields", body)[field]
    return value[0] if isinstance(value, list) else value


def create(client, files, category="personal"):
    return client.post("/api/uploads/sessions/", {"category": category, "files": files}, format="json")


def photo(name="a.jpg", size=1000, kind="image/jpeg"):
    return {"name": name, "size": size, "type": kind}


def test_session_create_gives_files_with_upload_urls_and_progress(ann_client, ann):
    response = create(ann_client, [photo("a.jpg"), photo("b.pdf", 50, "application/pdf")])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["category"] == "personal" and body["status"] == "pending"
    assert [file["name"] for file in body["files"]] == ["a.jpg", "b.pdf"]
    first = body["files"][0]
    assert first["upload_url"] == f"http://testserver/api/uploads/tus/{first['id']}"
    assert first["received"] == 0 and first["status"] == "pending"
    progress = body["progress"]
    assert progress["session_id"] == body["id"]
    assert (progress["bytes_total"], progress["bytes_received"], progress["total_progress"]) == (1050, 0, 0)
    assert progress["current_file"] is None
    assert set(progress) == {
        "session_id", "status", "total_progress", "bytes_received", "bytes_total", "completed_files",
        "failed_files", "current_file", "files", "message", "started_at", "finished_at",
    }  # fmt: skip
    assert UploadSession.objects.get(pk=body["id"]).owner == ann


@pytest.mark.parametrize(
    ("files", "category", "status", "field", "words"),
    [
        ([photo("x.exe", 10, "application/x-msdownload")], "personal", 400, "files", ["x.exe", "UPLOAD_ALLOWED_TYPES"]),
        ([photo("big.jpg", 101 * 1024 * 1024)], "personal", 413, "files", ["big.jpg", "UPLOAD_MAX_FILE_BYTES"]),
        ([photo(f"{n}.jpg") for n in range(21)], "personal", 400, "files", ["UPLOAD_MAX_FILES"]),
        (
            [photo(f"{n}.jpg", 90 * 1024 * 1024) for n in range(12)],
            "personal",
            413,
            "files",
            ["UPLOAD_MAX_SESSION_BYTES"],
        ),
        ([photo()], "secret", 400, "category", ["UPLOAD_CATEGORIES"]),
        ([photo("empty.pdf", 0, "application/pdf")], "personal", 400, "files", ["empty.pdf", "empty"]),
    ],
)
def test_session_create_refusals_name_the_file_and_rule_and_create_nothing(
    ann_client, files, category, status, field, words
):
    response = create(ann_client, files, category)
    assert response.status_code == status
    text = problem(response, field)
    assert all(word in text for word in words), text
    assert not UploadSession.objects.exists() and not UploadFile.objects.exists()


def test_session_create_checks_types_strictly(ann_client):
    response = create(ann_client, [{"name": 5, "size": "10", "type": "image/png"}])
    assert response.status_code == 400
    assert problem(response, "files")


def test_limits_come_from_settings(ann_client, settings):
    settings.UPLOAD_MAX_FILES = 1
    settings.UPLOAD_CATEGORIES = ["travel"]
    assert create(ann_client, [photo(), photo()], "travel").status_code == 400
    assert create(ann_client, [photo()], "travel").status_code == 201


def test_sessions_are_private_to_their_owner(ann_client, api_client_as, ben, api_client):
    session_id = create(ann_client, [photo()]).json()["id"]
    other = api_client_as(ben)
    for url in (f"/api/uploads/sessions/{session_id}/", f"/api/uploads/sessions/{session_id}/progress/"):
        assert other.get(url).status_code == 404
        assert api_client.get(url).status_code == 401
    assert other.post(f"/api/uploads/sessions/{session_id}/cancel/").status_code == 404
    assert other.get("/api/uploads/sessions/").json()["count"] == 0
    listed = ann_client.get("/api/uploads/sessions/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == session_id


def test_progress_etag_gives_304_until_something_changes(ann_client, ann):
    session_id = create(ann_client, [photo()]).json()["id"]
    url = f"/api/uploads/sessions/{session_id}/progress/"
    first = ann_client.get(url)
    etag = first["ETag"]
    assert first.status_code == 200 and first.json()["status"] == "pending"
    unchanged = ann_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304 and unchanged.content == b""
    services.session_cancel(user=ann, session_id=session_id)
    changed = ann_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json() == session_progress(UploadSession.objects.get(pk=session_id))


def test_cancel_stops_unfinished_files_and_later_uploads_are_gone(ann_client, ann):
    body = create(ann_client, [photo()]).json()
    response = ann_client.post(f"/api/uploads/sessions/{body['id']}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["files"][0]["status"] == "cancelled"
    head = ann_client.head(f"/api/uploads/tus/{body['files'][0]['id']}", **TUS)
    assert head.status_code == 410
    assert ann_client.post(f"/api/uploads/sessions/{body['id']}/cancel/").status_code == 200  # idempotent


def test_tus_options_needs_no_version_or_sign_in(api_client):
    response = api_client.options("/api/uploads/tus/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert response["Tus-Resumable"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {"creation", "termination", "checksum", "expiration"}
    assert response["Tus-Max-Size"] == str(100 * 1024 * 1024)
    assert set(response["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256"}


def test_tus_creation_adds_a_file_to_the_owners_session(ann_client, ann):
    session_id = create(ann_client, []).json()["id"]
    response = ann_client.post(
        "/api/uploads/tus/",
        HTTP_UPLOAD_LENGTH="1234",
        HTTP_UPLOAD_METADATA=metadata(session=str(session_id), filename="../../etc/passwd.jpg", filetype="image/jpeg"),
        **TUS,
    )
    assert response.status_code == 201, response.content
    file = UploadFile.objects.get(session_id=session_id)
    assert response["Location"] == f"http://testserver/api/uploads/tus/{file.pk}"
    assert response["Tus-Resumable"] == "1.0.0" and "Upload-Expires" in response
    assert (file.size, file.content_type, file.storage_name) == (1234, "image/jpeg", "passwd.jpg")
    head = ann_client.head(response["Location"], **TUS)
    assert (head.status_code, head["Upload-Offset"], head["Upload-Length"]) == (200, "0", "1234")
    assert head["Cache-Control"] == "no-store"


def test_tus_creation_refusals(ann_client, api_client_as, ben, settings):
    settings.UPLOAD_MAX_FILES = 1
    session_id = str(create(ann_client, []).json()["id"])

    def post(client, length="10", **meta):
        return client.post("/api/uploads/tus/", HTTP_UPLOAD_LENGTH=length, HTTP_UPLOAD_METADATA=metadata(**meta), **TUS)

    ok = {"session": session_id, "filename": "a.pdf", "filetype": "application/pdf"}
    assert post(ann_client, str(101 * 1024 * 1024), **ok).status_code == 413
    assert post(ann_client, **{**ok, "filetype": "text/html"}).status_code == 400
    assert post(api_client_as(ben), **ok).status_code == 404
    assert post(ann_client, **{**ok, "session": "999999"}).status_code == 404
    no_version = ann_client.post("/api/uploads/tus/", HTTP_UPLOAD_LENGTH="10", HTTP_UPLOAD_METADATA=metadata(**ok))
    assert no_version.status_code == 412 and no_version["Tus-Version"] == "1.0.0"
    assert UploadFile.objects.count() == 0
    assert post(ann_client, **ok).status_code == 201
    too_many = post(ann_client, **ok)
    assert too_many.status_code == 400 and "UPLOAD_MAX_FILES" in too_many.json()["detail"]


def test_tus_head_and_delete_of_someone_elses_upload_are_404(ann_client, api_client_as, ben):
    file_id = create(ann_client, [photo()]).json()["files"][0]["id"]
    other = api_client_as(ben)
    assert other.head(f"/api/uploads/tus/{file_id}", **TUS).status_code == 404
    assert other.delete(f"/api/uploads/tus/{file_id}", **TUS).status_code == 404
    assert UploadFile.objects.get(pk=file_id).status == FileStatus.PENDING


def test_tus_termination_cancels_the_file(ann_client, ann, media_root):
    body = create(ann_client, [photo(), photo("b.jpg")]).json()
    file_id = body["files"][0]["id"]
    response = ann_client.delete(f"/api/uploads/tus/{file_id}", **TUS)
    assert response.status_code == 204 and response["Tus-Resumable"] == "1.0.0"
    assert UploadFile.objects.get(pk=file_id).status == FileStatus.CANCELLED
    assert ann_client.head(f"/api/uploads/tus/{file_id}", **TUS).status_code == 410
    progress = ann_client.get(f"/api/uploads/sessions/{body['id']}/progress/").json()
    assert progress["bytes_total"] == 1000  # the cancelled file no longer counts


def test_expired_sessions_answer_410_and_cleanup_marks_them_failed(ann_client, ann):
    body = create(ann_client, [photo()]).json()
    UploadSession.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    file_url = f"/api/uploads/tus/{body['files'][0]['id']}"
    assert ann_client.head(file_url, **TUS).status_code == 410
    assert ann_client.delete(file_url, **TUS).status_code == 410
    call_command("uploads_cleanup")
    session = UploadSession.objects.get(pk=body["id"])
    assert (session.status, session.message) == (SessionStatus.FAILED, "Expired.")
    assert UploadFile.objects.get(session=session).status == FileStatus.FAILED


def test_file_content_is_the_owners_with_a_safe_disposition(ann_client, api_client_as, ben, ann):
    content = jpeg_bytes()
    session = services.session_create(
        user=ann, category="scenic", files=[{"name": 'evil"\r\nX: y.jpg', "size": len(content), "type": "image/jpeg"}]
    )
    file = session.files.get()
    from uploads import storage

    with storage.partial_open(file.pk, 0) as handle:
        handle.write(content)
    file.received = file.size
    file.status = FileStatus.PROCESSING
    file.save(update_fields=["received", "status"])
    processed = services.upload_file_process(file_id=file.pk)
    assert processed.status == FileStatus.COMPLETED, processed.error
    url = f"/api/uploads/files/{file.pk}/content/"
    assert api_client_as(ben).get(url).status_code == 404
    response = ann_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'attachment; filename="evil_X_y.jpg"'
    assert b"".join(response.streaming_content) == content
    response.close()


def test_a_pdf_declared_as_an_image_fails_that_file_only(ann, media_root):
    from uploads import storage

    pdf = pdf_bytes()
    good = jpeg_bytes()
    session = services.session_create(
        user=ann,
        category="personal",
        files=[
            {"name": "fake.png", "size": len(pdf), "type": "image/png"},
            {"name": "real.jpg", "size": len(good), "type": "image/jpeg"},
        ],
    )
    for file, content in zip(session.files.order_by("id"), (pdf, good), strict=True):
        with storage.partial_open(file.pk, 0) as handle:
            handle.write(content)
        UploadFile.objects.filter(pk=file.pk).update(received=len(content), status=FileStatus.PROCESSING)
        services.upload_file_process(file_id=file.pk)
    fake, real = session.files.order_by("id")
    assert fake.status == FileStatus.FAILED
    assert fake.error == "The content of fake.png is application/pdf, not the declared image/png."
    assert not fake.content and not storage.partial_path(fake.pk).exists()
    assert real.status == FileStatus.COMPLETED and (real.width, real.height) == (64, 48)
    session.refresh_from_db()
    assert session.status == SessionStatus.PARTIAL
    progress = session_progress(session)
    assert (progress["completed_files"], progress["failed_files"], progress["total_progress"]) == (1, 1, 100)
    assert progress["bytes_total"] == len(good)


def test_cleanup_checks_files_left_processing_by_a_dead_process(ann):
    from uploads import storage

    content = pdf_bytes()
    session = services.session_create(
        user=ann, category="personal", files=[{"name": "a.pdf", "size": len(content), "type": "application/pdf"}]
    )
    file = session.files.get()
    with storage.partial_open(file.pk, 0) as handle:
        handle.write(content)
    old = timezone.now() - timedelta(hours=1)
    UploadFile.objects.filter(pk=file.pk).update(received=len(content), status=FileStatus.PROCESSING, updated_at=old)
    recent = services.session_create(
        user=ann, category="personal", files=[{"name": "b.pdf", "size": 5, "type": "application/pdf"}]
    ).files.get()
    UploadFile.objects.filter(pk=recent.pk).update(received=5, status=FileStatus.PROCESSING)
    call_command("uploads_cleanup")
    assert UploadFile.objects.get(pk=file.pk).status == FileStatus.COMPLETED
    assert UploadSession.objects.get(pk=session.pk).status == SessionStatus.COMPLETED
    assert UploadFile.objects.get(pk=recent.pk).status == FileStatus.PROCESSING  # perhaps still being checked
