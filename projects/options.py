"""The run-time settings of projects (harbor_py.core.configuration)."""

from harbor_py.core.configuration import register

register("project_creation_restriction", str, "everyone", choices=("everyone", "adminonly"))
