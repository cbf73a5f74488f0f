from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from channels_integrations.polling import poll_channel


class Command(BaseCommand):
    help = "Poll one channel account now, in this process (the same function the worker runs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = poll_channel(options["channel_id"])
        if outcome.error:
            self.stderr.write(f"poll failed: {outcome.error}")
        else:
            self.stdout.write(
                f"{outcome.new_messages} new message(s) in {outcome.pages} page(s), "
                f"{outcome.skipped} skipped, caught up: {outcome.caught_up}"
            )
