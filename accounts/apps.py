from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save, pre_migrate

        from accounts import receivers
        from accounts.models import User

        # Before the disconnect: a client reconnecting the moment it is closed is refused.
        post_save.connect(receivers.forget_cached_user, sender=User, dispatch_uid="accounts.user_cache_save")
        post_delete.connect(receivers.forget_cached_user, sender=User, dispatch_uid="accounts.user_cache_delete")
        post_save.connect(
            receivers.close_connections_of_deactivated, sender=User, dispatch_uid="accounts.deactivated_disconnect"
        )
        pre_migrate.connect(receivers.start_moderators_group_run, sender=self, dispatch_uid="accounts.moderators_run")
