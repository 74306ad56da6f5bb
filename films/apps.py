from django.apps import AppConfig


class FilmsConfig(AppConfig):
    name = "films"
    verbose_name = "Film guides"

    def ready(self):
        from django.db.backends.signals import connection_created

        from films import derived, search_index

        derived.connect()
        connection_created.connect(
            search_index.register_functions, dispatch_uid="films.search_functions"
        )
