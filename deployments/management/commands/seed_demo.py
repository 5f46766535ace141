from django.conf import settings
from django.core.management.base import BaseCommand

from ccb import demo

from ...demo import DemoRunbooks


class Command(BaseCommand):
    help = "Create the demo personas, the Production CCB, services and changes across the lifecycle (idempotent)."

    def handle(self, *args, **options):
        logins = demo.seed(runbooks=DemoRunbooks())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Sign in as any of these, password '{settings.CCB_DEMO_PASSWORD}':")
        )
        for username, role in logins:
            self.stdout.write(f"  {username:<8} {role}")
