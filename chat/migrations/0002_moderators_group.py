"""The `moderators` group and the permissions it needs for the chat admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODERATORS_GROUP = "moderators"
# (app_label, codename). Direct messages are left out on purpose: superusers only.
PERMISSIONS = [
    ("chat", "view_channel"),
    ("chat", "change_channel"),
    ("chat", "view_membership"),
    ("chat", "add_membership"),
    ("chat", "delete_membership"),
    ("chat", "view_message"),
    ("chat", "moderate_message"),
    ("chat", "view_messageedit"),
    # To pick users when adding a member.
    ("accounts", "view_user"),
]


def create_moderators(apps, schema_editor):
    # Permissions are normally created after all migrations ran; this one needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=MODERATORS_GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_moderators(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=MODERATORS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_moderators, remove_moderators)]
