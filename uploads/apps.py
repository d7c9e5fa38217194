from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from realtime.api import register
        from uploads.topics import UploadHandler

        register(UploadHandler())
