import zoneinfo

from django.utils import timezone

from notifications import services as notifications

SESSION_KEY = "ccb_tz_recorded"


class ViewerTimezoneMiddleware:
    """Show times in the viewer's zone: the browser reports it in the `tz` cookie (see base.html).

    A signed-in person's zone is also recorded for their mail (notifications' Preference.time_zone),
    once per session and whenever it changes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get("tz", "")
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
            name = ""
        if name:
            _record(request, name)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _record(request, name: str) -> None:
    user, session = getattr(request, "user", None), getattr(request, "session", None)
    if user is None or session is None or not user.is_authenticated or session.get(SESSION_KEY) == name:
        return
    notifications.time_zone_record(user_id=user.pk, name=name)
    session[SESSION_KEY] = name
