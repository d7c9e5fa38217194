from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import receivers
        from notifications.topics import NotificationsInboxPart
        from realtime.api import register_inbox_part

        register_inbox_part(NotificationsInboxPart())
        receivers.connect()
