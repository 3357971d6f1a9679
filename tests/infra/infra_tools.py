"""Load the infrastructure tools of tools/ as modules (tools/ is a folder of scripts and the
tools/infra package, not an installed package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from feedline.settings import REPO_ROOT as REPO


def load_tool(name: str) -> ModuleType:
    """tools/<name>.py or the package tools/<name>/, imported once under a name that cannot clash
    with installed packages (a package's relative imports resolve under that name)."""
    qualified = f"feedline_tools_{name}"
    if qualified not in sys.modules:
        package = REPO / "tools" / name
        if package.is_dir():
            spec = importlib.util.spec_from_file_location(
                qualified, package / "__init__.py", submodule_search_locations=[str(package)]
            )
        else:
            spec = importlib.util.spec_from_file_location(qualified, REPO / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]
