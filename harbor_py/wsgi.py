from django.core.wsgi import get_wsgi_application

from harbor_py.core import env

env.set_default("DJANGO_SETTINGS_MODULE", "harbor_py.settings")
application = get_wsgi_application()
