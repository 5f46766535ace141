"""A real SMTP server on 127.0.0.1 (aiosmtpd in a thread) that keeps what arrives, for tests to read."""

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None and part.get_content_subtype() == subtype else ""

    @property
    def text(self) -> str:
        return self.body("plain")

    @property
    def html(self) -> str:
        return self.body("html")

    def attachments(self) -> list[EmailMessage]:
        return list(self.message.iter_attachments())


class Inbox:
    """The handler: records each accepted message; can be told to refuse, or to hold before replying."""

    def __init__(self):
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.rcpt_reply: str | None = None  # e.g. "550 5.1.1 No such user"
        self.data_reply: str | None = None  # e.g. "451 4.3.0 Try again later"
        self.arrived = threading.Event()
        self.hold = threading.Event()  # set: accept the data, then wait for release before answering 250
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        self.arrived.set()
        while self.hold.is_set() and not self.release.is_set():
            await asyncio.sleep(0.05)
        return "250 2.0.0 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} message(s) within {timeout}s, got {len(self.messages)}")

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if address in m.rcpt_tos]


def reserve_port() -> socket.socket:
    """A socket bound to a port the OS chose, not listening: connecting to it is refused until
    an SMTPServer starts on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class SMTPServer(Controller):
    """aiosmtpd's threaded controller, listening on a socket we bound (so the port is the OS's choice)."""

    def __init__(self, sock: socket.socket, handler: Inbox | None = None):
        self.sock = sock
        self.inbox = handler or Inbox()
        super().__init__(self.inbox, hostname="127.0.0.1", port=sock.getsockname()[1], ready_timeout=10)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)
