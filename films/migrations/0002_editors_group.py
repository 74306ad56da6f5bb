"""The "Editors" group: exactly the permissions to write and publish guides.

Members may add, change, delete and view every part of a guide (films and
their rows, people, themes, genres, countries, languages). They get nothing
else: no users or groups, no history deletion, no sign-in records. History
(compare, revert, recover) is reached through a film's own permissions.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Editors"
ACTIONS = ("add", "change", "delete", "view")


def create_editors(apps, schema_editor):
    # Permissions are normally made after all migrations (post_migrate); make
    # this app's now so that the group can be given them on a fresh database.
    films = apps.get_app_config("films")
    films.models_module = True
    create_permissions(films, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    models = list(films.get_models())
    content_types = ContentType.objects.db_manager(db).filter(
        app_label="films", model__in=[m._meta.model_name for m in models]
    )
    codenames = [
        f"{action}_{model._meta.model_name}" for model in models for action in ACTIONS
    ]
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.set(
        Permission.objects.using(db).filter(
            content_type__in=content_types, codename__in=codenames
        )
    )


def remove_editors(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("films", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_editors, remove_editors)]
