"""kctl's optional C extensions, loaded in one place.

Each extension does what a Python function beside it does, faster. Where it was not built (no C
compiler at install time), or where `KCTL_WITHOUT_C` names it (a comma-separated list of module
names, or `all`), kctl runs the Python one: that is how the tests and `bench/native.py` hold the
two to the same results and measure what each extension is worth.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

#: Every C extension, by module: what `KCTL_WITHOUT_C` names and `python -m build` builds.
EXTENSIONS = (
    "kctl.protocol._check_records",
    "kctl.cli._rowtext",
)


def switched_off(module: str) -> bool:
    """Whether `KCTL_WITHOUT_C` turns `module` off (by its full or its last name, or `all`)."""
    names = {name.strip() for name in os.environ.get("KCTL_WITHOUT_C", "").split(",") if name.strip()}
    return "all" in names or module in names or module.rsplit(".", 1)[-1] in names


def extension(module: str) -> ModuleType | None:
    """The C extension `module`, or None where it is not built or is switched off."""
    if module not in EXTENSIONS:
        raise ValueError(f"{module} is not one of kctl's C extensions")
    if switched_off(module):
        return None
    try:
        return importlib.import_module(module)
    except ImportError:  # built without a C compiler
        return None


def loaded() -> dict[str, bool]:
    """Each extension and whether it runs in this process (for benchmarks and `kctl version`)."""
    return {module: extension(module) is not None for module in EXTENSIONS}
