"""Celery settings the notifications app needs, for ccb/settings.py to merge in:

    from notifications import celery_config as notifications_celery

    CELERY_TASK_ROUTES = {**notifications_celery.TASK_ROUTES}
    CELERY_BEAT_SCHEDULE.update(notifications_celery.BEAT_SCHEDULE)

notifications sends its own messages with the queue named, so the routes only matter for someone
calling ``.delay()`` on its tasks directly. Imports nothing from Django or ccb.
"""

from celery.schedules import crontab

TASK_ROUTES = {"notifications.*": {"queue": "notifications"}}

BEAT_SCHEDULE = {
    "notifications-daily-digest": {
        "task": "notifications.daily_digest",
        "schedule": crontab(hour=7, minute=0),  # CELERY_TIMEZONE (UTC)
        "options": {"queue": "notifications"},
    },
    "notifications-sweep-outbox": {
        "task": "notifications.sweep_outbox",
        "schedule": 60.0,
        "options": {"queue": "notifications", "expires": 55},
    },
}
