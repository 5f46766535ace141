from django.core.management.base import BaseCommand, CommandError

from ccb import audit


class Command(BaseCommand):
    help = "Walk the audit chain; exit 0 when every link holds, non-zero naming the first bad seq."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options):
        result = audit.verify(using=options["database"])
        if not result.ok:
            raise CommandError(
                f"audit chain broken at seq {result.first_bad_seq}: {result.reason} "
                f"({result.checked} events verified before it)"
            )
        self.stdout.write(
            f"audit chain intact: {result.checked} events, head seq {result.head_seq} hash {result.head_hash}"
        )
