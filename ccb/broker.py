"""The zero-setup broker: kombu's filesystem transport, with messages that appear whole.

kombu's own filesystem transport creates a message file and then writes it; a worker listing the
folder in between takes the empty file, fails to decode it and stops ("Unrecoverable error:
JSONDecodeError"). With one worker per queue and beat beside them, that race is met within minutes.
Here a message is written under a name no reader looks for and renamed into place, which is atomic on
the same filesystem, so a reader sees a whole message or none.
"""

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")  # readers match "<id>.<queue>.msg"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def install() -> None:
    """Make ``filesystem://`` broker URLs use this transport."""
    TRANSPORT_ALIASES["filesystem"] = "ccb.broker:Transport"
