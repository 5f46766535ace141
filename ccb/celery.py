import os

from celery import Celery

from ccb import broker

broker.install()  # filesystem:// (the zero-setup default) writes each message whole

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccb.settings")

app = Celery("ccb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
