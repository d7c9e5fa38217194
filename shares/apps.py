from django.apps import AppConfig


class SharesConfig(AppConfig):
    name = "shares"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from realtime.api import register
        from shares import receivers
        from shares.topics import ShareHandler

        register(ShareHandler())
        post_migrate.connect(receivers.ensure_moderators_group, sender=self, dispatch_uid="shares.moderators_group")
