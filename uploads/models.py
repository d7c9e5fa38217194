"""Upload sessions and their files (issue 10; the `upload:<session_id>` topic, docs/protocol.md 4.4).

A session is one batch a user picks (several photos and a PDF); each file is a tus
upload resource (`/api/uploads/tus/<file id>`) whose bytes go to Django's storage
under a name the server makes, never one the client sent.
"""

from django.conf import settings
from django.db import models

from realtime.api import topic_name


class SessionStatus(models.TextChoices):
    PENDING = "pending"  # nothing received yet
    UPLOADING = "uploading"
    PROCESSING = "processing"
    COMPLETED = "completed"  # every file completed
    PARTIAL = "partial"  # finished with some files failed or cancelled
    FAILED = "failed"  # every file failed, or the session expired
    CANCELLED = "cancelled"


class FileStatus(models.TextChoices):
    PENDING = "pending"
    UPLOADING = "uploading"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


SESSION_FINISHED = (SessionStatus.COMPLETED, SessionStatus.PARTIAL, SessionStatus.FAILED, SessionStatus.CANCELLED)
FILE_FINISHED = (FileStatus.COMPLETED, FileStatus.FAILED, FileStatus.CANCELLED)


def session_topic(session_id: int) -> str:
    """The topic of a session's progress: `upload:<session_id>`."""
    return topic_name("upload", session_id)


class UploadSession(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upload_sessions")
    # Choices come from UPLOAD_CATEGORIES (a setting), so they are checked by the services, not the column.
    category = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=SessionStatus.choices, default=SessionStatus.PENDING)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="uploads_session_owner_idx"),
            models.Index(fields=["status", "expires_at"], name="uploads_session_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"Upload session {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in SESSION_FINISHED


class UploadFile(models.Model):
    session = models.ForeignKey(UploadSession, on_delete=models.CASCADE, related_name="files")
    original_name = models.CharField(max_length=255)  # as the client sent it, cleaned; for display only
    storage_name = models.CharField(max_length=255)  # safe: no path parts, control characters or leading dots
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100)
    received = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    detected_type = models.CharField(max_length=100, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=FileStatus.choices, default=FileStatus.PENDING)
    error = models.CharField(max_length=300, blank=True)
    # Through Django's storage API (default_storage), so django-storages can put it on S3.
    content = models.FileField(upload_to="uploads/", max_length=255, blank=True)
    # The request currently appending bytes (a lease, so a killed process does not block resuming).
    writer = models.CharField(max_length=32, blank=True)
    writer_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(received__gte=0) & models.Q(received__lte=models.F("size")),
                name="uploads_file_received_within_size",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FILE_FINISHED
