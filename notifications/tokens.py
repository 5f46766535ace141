"""Signed links: one-click unsubscribe and the preferences page, for people with or without an account.

A token names a person (``u:<user id>`` or ``e:<address>``) and, for unsubscribe, the event; the
same person and event always give the same link. It does not expire: an unsubscribe link in a
year-old message must still work. Rotating SECRET_KEY (with SECRET_KEY_FALLBACKS for a while) is
how old links are retired.
"""

from dataclasses import dataclass

from django.core import signing

from . import conf

_UNSUBSCRIBE_SALT = "notifications.unsubscribe"
_PREFERENCES_SALT = "notifications.preferences"
# The URL paths notifications.urls serves under the prefix the root URLconf gives it. Built by hand
# rather than reversed, so writing a message never depends on which URLconf is active.
URL_PREFIX = "/notifications"


@dataclass(frozen=True)
class Person:
    user_id: int | None
    email: str

    @property
    def key(self) -> str:
        return f"u:{self.user_id}" if self.user_id is not None else f"e:{self.email.lower()}"

    @classmethod
    def from_key(cls, key: str) -> "Person":
        kind, _, value = key.partition(":")
        if kind == "u" and value.isascii() and value.isdigit():
            return cls(user_id=int(value), email="")
        if kind == "e" and "@" in value:
            return cls(user_id=None, email=value.lower())
        raise signing.BadSignature("not a person")


def unsubscribe_token(person: Person, event: str) -> str:
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign_object({"p": person.key, "e": event})


def preferences_token(person: Person) -> str:
    return signing.Signer(salt=_PREFERENCES_SALT).sign_object({"p": person.key})


def read_unsubscribe(token: str) -> tuple[Person, str]:
    """(person, event); raises signing.BadSignature for anything not signed by us."""
    data = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign_object(token)
    return Person.from_key(data["p"]), str(data["e"])


def read_preferences(token: str) -> Person:
    return Person.from_key(signing.Signer(salt=_PREFERENCES_SALT).unsign_object(token)["p"])


def unsubscribe_url(person: Person, event: str) -> str:
    return f"{conf.base_url()}{URL_PREFIX}/unsubscribe/{unsubscribe_token(person, event)}/"


def preferences_url(person: Person) -> str:
    return f"{conf.base_url()}{URL_PREFIX}/preferences/{preferences_token(person)}/"
