from django.conf import settings
from django.core.management.base import BaseCommand

from ccb import demo

from ... import demo_aws
from ...demo import DemoRunbooks


class Command(BaseCommand):
    help = (
        "Create the demo personas, the Production CCB, services, runbooks and changes across the lifecycle, "
        "and the demo's AWS resources on an emulator on loopback (idempotent; never real AWS)."
    )

    def handle(self, *args, **options):
        with demo_aws.emulator() as endpoint:
            demo_aws.seed()
            logins = demo.seed(runbooks=DemoRunbooks())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Sign in as any of these, password '{settings.CCB_DEMO_PASSWORD}':")
        )
        for username, role in logins:
            self.stdout.write(f"  {username:<8} {role}")
        self.stdout.write(f"The demo's AWS (Lambda {demo_aws.FUNCTION}, alarm {demo_aws.ALARM}) is at {endpoint}.")
