from django.core.management.base import BaseCommand, CommandError

from ... import demo_aws


class Command(BaseCommand):
    help = (
        "Set the demo canary's CloudWatch alarm (fraud-scorer-errors) on the demo's emulator: ALARM during a "
        "run's bake makes the engine roll the canary back; OK calms it. Demo only: refuses real AWS."
    )

    def add_arguments(self, parser):
        parser.add_argument("state", choices=["ALARM", "OK", "INSUFFICIENT_DATA"])
        parser.add_argument("--reason", default="")

    def handle(self, *args, state, reason, **options):
        try:
            demo_aws.set_alarm(state, reason)
        except demo_aws.NotAnEmulator as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{demo_aws.ALARM} is now {state}."))
