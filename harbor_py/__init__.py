import importlib.util
import sys
from pathlib import Path


def _register_gc_package() -> None:
    """Make the top-level `gc/` folder importable as `harbor_gc`.

    `gc` is a built-in module of Python, which always wins over a folder of that name, so
    the garbage-collection app keeps the folder name the layout asks for and is imported
    under another name.
    """
    if "harbor_gc" in sys.modules:
        return
    folder = Path(__file__).resolve().parent.parent / "gc"
    spec = importlib.util.spec_from_file_location(
        "harbor_gc", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["harbor_gc"] = module
    spec.loader.exec_module(module)


_register_gc_package()

from harbor_py.celery import app as celery_app  # noqa: E402

__all__ = ["celery_app"]
