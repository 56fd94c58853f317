import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harbor_py.settings")

app = Celery("harbor_py")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
