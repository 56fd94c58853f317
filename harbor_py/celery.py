from celery import Celery

from harbor_py.core import env

env.set_default("DJANGO_SETTINGS_MODULE", "harbor_py.settings")

app = Celery("harbor_py")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
