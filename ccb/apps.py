from django.apps import AppConfig


class CcbConfig(AppConfig):
    name = "ccb"
    verbose_name = "Change Control Board"
