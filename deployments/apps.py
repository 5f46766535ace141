from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self):
        from ccb import execution

        from . import steps  # noqa: F401 - registers the step types
        from .hooks import Hooks

        execution.register(Hooks())
