"""Fixtures for notifications: a real SMTP server on loopback, eager or real Celery, a clean registry."""

import pytest

from notifications import registry

from .smtp import Inbox, SMTPServer, reserve_port


class MailServer:
    """An SMTP server on a port the OS chose. Until up() it refuses connections on that port."""

    def __init__(self):
        self.sock = reserve_port()
        self.port = self.sock.getsockname()[1]
        self.inbox = Inbox()
        self.controller: SMTPServer | None = None

    def up(self) -> "MailServer":
        self.controller = SMTPServer(self.sock, self.inbox)
        self.controller.start()
        return self

    def close(self) -> None:
        if self.controller is not None:
            self.controller.stop()
        else:
            self.sock.close()


def _point_django_at(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.NOTIFICATIONS_SMTP_TIMEOUT = 5


@pytest.fixture
def mail_server(settings):
    """Down at first (connections refused): call .up() to start it on the same port."""
    server = MailServer()
    _point_django_at(settings, server.port)
    yield server
    server.close()


@pytest.fixture
def smtp(mail_server) -> Inbox:
    """A running SMTP server on 127.0.0.1; Django sends to it. Returns what arrived."""
    return mail_server.up().inbox


@pytest.fixture
def eager_celery():
    from ccb.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = saved


@pytest.fixture(autouse=True)
def _clean_registry():
    """Each test starts without ccb's sources (tests that need them register them) and leaves
    ccb's registrations as it found them."""
    saved = dict(registry._sources)
    registry.register_board_members_source(None)
    registry.register_digest_source(None)
    yield
    registry._sources.update(saved)
