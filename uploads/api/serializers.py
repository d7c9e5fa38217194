"""Request and response shapes of the uploads API.

Response serializers declare the fields for the OpenAPI schema and render through
`uploads.payloads`, the functions the topic and the services publish with, so P reads
the same over REST, polling and WebSocket.
"""

from typing import Any

from rest_framework import serializers

from config.api import MAX_ID, TypedCharField
from uploads import payloads

STATUS_HELP = "pending, uploading, processing, completed, partial (some files failed), failed or cancelled."
FILE_STATUS_HELP = "pending, uploading, processing, completed, failed or cancelled."


# -- requests --------------------------------------------------------------------


class FileDeclareSerializer(serializers.Serializer):
    name = TypedCharField(max_length=1000, help_text="The file's name as picked (shown; never used as a path).")
    size = serializers.IntegerField(
        min_value=0, max_value=MAX_ID, help_text="Bytes, at least 1 (UPLOAD_MAX_FILE_BYTES)."
    )
    type = TypedCharField(max_length=100, help_text="Declared content type, e.g. image/jpeg (UPLOAD_ALLOWED_TYPES).")


class SessionCreateSerializer(serializers.Serializer):
    category = TypedCharField(max_length=40, help_text="One of UPLOAD_CATEGORIES (default personal, scenic).")
    files = FileDeclareSerializer(
        many=True, required=False, default=list, help_text="May be empty when files are added by tus creation."
    )


# -- responses -------------------------------------------------------------------


class CurrentFileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    progress = serializers.IntegerField(help_text="0..100")
    status = serializers.CharField(help_text=FILE_STATUS_HELP)


class FileProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    received = serializers.IntegerField()
    progress = serializers.IntegerField(help_text="0..100")
    status = serializers.CharField(help_text=FILE_STATUS_HELP)
    error = serializers.CharField(help_text="Why the file failed; empty otherwise.")


class ProgressSerializer(serializers.Serializer):
    """The progress object P (docs/protocol.md 4.4), the same as the `upload:<id>` topic's."""

    session_id = serializers.IntegerField()
    status = serializers.CharField(help_text=STATUS_HELP)
    total_progress = serializers.IntegerField(help_text="0..100 by bytes, failed and cancelled files left out.")
    bytes_received = serializers.IntegerField()
    bytes_total = serializers.IntegerField()
    completed_files = serializers.IntegerField()
    failed_files = serializers.IntegerField()
    current_file = CurrentFileSerializer(allow_null=True)
    files = FileProgressSerializer(many=True)
    message = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return payloads.session_progress(instance)


class FileSerializer(FileProgressSerializer):
    type = serializers.CharField(help_text="The declared content type.")
    detected_type = serializers.CharField(help_text="The type sniffed from the content once complete.")
    sha256 = serializers.CharField(help_text="Hex digest once complete.")
    width = serializers.IntegerField(allow_null=True, help_text="Images only.")
    height = serializers.IntegerField(allow_null=True, help_text="Images only.")
    upload_url = serializers.CharField(help_text="The tus upload resource (HEAD, PATCH, DELETE).")
    content_url = serializers.CharField(allow_null=True, help_text="Download, once completed.")


class SessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    category = serializers.CharField()
    status = serializers.CharField(help_text=STATUS_HELP)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(help_text="After this, uploads answer 410 (UPLOAD_SESSION_TTL).")
    files = FileSerializer(many=True)
    progress = ProgressSerializer()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = payloads.session_data(instance, list(instance.files.all()))
        request = self.context.get("request")
        if request is not None:
            for file in data["files"]:
                file["upload_url"] = request.build_absolute_uri(file["upload_url"])
        return data
