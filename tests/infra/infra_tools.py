"""Load the infrastructure scripts of tools/ as modules (tools/ is a folder of scripts, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from feedline.settings import REPO_ROOT as REPO


def load_tool(name: str) -> ModuleType:
    """tools/<name>.py, imported once under a name that cannot clash with installed packages."""
    qualified = f"feedline_tools_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, REPO / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]
