from django.apps import AppConfig


class FilmsConfig(AppConfig):
    name = "films"
    verbose_name = "Film guides"

    def ready(self):
        from films import derived

        derived.connect()
