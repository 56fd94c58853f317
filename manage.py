#!/usr/bin/env python
import sys

from harbor_py.core import env

if __name__ == "__main__":
    env.set_default("DJANGO_SETTINGS_MODULE", "harbor_py.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
