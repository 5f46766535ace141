"""The system principal: who acts when ccb's workers act, always on behalf of a person.

It is an account that cannot sign in (inactive, no usable password) and holds no role; the audit
names it, the policies recognise it, and every act it takes records the person it acts for.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

SYSTEM_USERNAME = "ccb-system"


def system_user() -> User:
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "ccb", "last_name": "(system)"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def is_system(user: object) -> bool:
    return (
        getattr(user, "username", None) == SYSTEM_USERNAME
        and not getattr(user, "is_active", True)
        and not user.has_usable_password()  # type: ignore[attr-defined]
    )
