from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_save, pre_migrate

        from accounts import receivers
        from accounts.models import User

        post_save.connect(
            receivers.close_connections_of_deactivated, sender=User, dispatch_uid="accounts.deactivated_disconnect"
        )
        pre_migrate.connect(receivers.start_moderators_group_run, sender=self, dispatch_uid="accounts.moderators_run")
