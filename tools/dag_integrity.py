"""Load every DAG from a bundle (tools/bundle.py) alone, the way Composer will.

    python tools/dag_integrity.py build/bundle

A child Python process gets a clean environment: PYTHONPATH holds only <bundle>/dags and
<bundle>/plugins (Composer's import paths), FEEDLINE_CONTRACTS_DIR / FEEDLINE_SQL_DIR point into
<bundle>/data, AIRFLOW_HOME is an empty temporary folder, FEEDLINE_RUNNER=dataflow (what
Terraform sets on Composer). Nothing from the repository checkout can leak in: the child checks
that ``feedline`` was imported from the bundle, and refuses to import what Composer does not
have (COMPOSER_LACKS: Beam, its Airflow provider, the Beam job, the layers the bundle leaves
out), even where this machine's venv has them. It passes
when the DagBag has no import errors and every contract in <bundle>/data/contracts has exactly
one DAG, ``feedline_<feed>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Runs in the child: only the bundle is importable (plus the interpreter's site-packages,
# where Airflow and the providers live, as on Composer).
CHILD = r"""
import importlib.abc, json, sys, warnings
warnings.simplefilter("ignore")
bundle, lacks = sys.argv[1], json.loads(sys.argv[2])


class ComposerLacks(importlib.abc.MetaPathFinder):
    # First on sys.meta_path: ahead of the path finders and of the venv's editable install.
    def find_spec(self, name, path=None, target=None):
        if any(name == m or name.startswith(m + ".") for m in lacks):
            raise ModuleNotFoundError(f"No module named {name!r} (not on Composer)", name=name)
        return None


sys.meta_path.insert(0, ComposerLacks())
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow < 3.1
    from airflow.models.dagbag import DagBag
import inspect
# Airflow 3.3 dropped include_examples (AIRFLOW__CORE__LOAD_EXAMPLES=False covers it there).
kwargs = {"include_examples": False} if "include_examples" in inspect.signature(DagBag).parameters else {}
bag = DagBag(dag_folder=bundle + "/dags", **kwargs)
origin = None
if "feedline" in sys.modules:
    origin = getattr(sys.modules["feedline"], "__file__", None)
print("@@RESULT@@" + json.dumps({
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "feedline_origin": origin,
}))
"""


# Importable here (the development venv) but not to be used on Composer: a DAG that imports one
# of them fails to load in the cloud (or drags a local-only path into it), so it fails here too.
# apache_beam and the Beam job: the DAGs launch a flex template on Dataflow and never build a
# pipeline. The Beam provider's operators run a pipeline on this machine (the local
# DirectRunner) and are imported only for that runner. The provider's hooks stay importable:
# Google's Dataflow hook (DataflowStartFlexTemplateOperator) imports them, and Composer images
# preinstall apache-airflow-providers-apache-beam for that reason.
COMPOSER_LACKS = (
    "apache_beam",
    "airflow.providers.apache.beam.operators",
    "feedline_beam",
    "feedline.validate",
    "feedline.local",
    "feedline.cli",
)


def clean_env(bundle: Path, airflow_home: Path) -> dict[str, str]:
    """Composer's view: the bundle's import paths and data folders, nothing of the caller's."""
    return {
        "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",
        "HOME": str(airflow_home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(bundle / "dags"), str(bundle / "plugins")]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # This check is about import errors, not speed (the parse-time benchmark measures that):
        # a busy CI machine must not turn a slow first import of the Google provider into one.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        "AIRFLOW__CORE__DAGS_FOLDER": str(bundle / "dags"),
        "FEEDLINE_CONTRACTS_DIR": str(bundle / "data" / "contracts"),
        "FEEDLINE_SQL_DIR": str(bundle / "data" / "sql"),
        "FEEDLINE_RUNNER": "dataflow",
    }


def expected_dag_ids(bundle: Path) -> set[str]:
    """feedline_<feed> for every contract in the bundle (read as YAML, not via the contract
    loader; the id is spelled by feedline.contract.naming, as the DAG factory spells it)."""
    import yaml

    from feedline.contract.naming import dag_id
    return {
        dag_id(yaml.safe_load(p.read_text())["feed"])
        for p in sorted((bundle / "data" / "contracts").glob("*.yaml"))
    }


def load_bundle(bundle: Path, timeout: int = 600) -> dict:
    """What the DagBag of the bundle holds, loaded in a clean child process."""
    with tempfile.TemporaryDirectory(prefix="feedline-airflow-home-") as home:
        result = subprocess.run(
            [sys.executable, "-c", CHILD, str(bundle), json.dumps(COMPOSER_LACKS)],
            env=clean_env(bundle, Path(home)),
            cwd=home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    marker = next((ln for ln in result.stdout.splitlines() if ln.startswith("@@RESULT@@")), None)
    if result.returncode != 0 or marker is None:
        raise RuntimeError(f"loading the DagBag failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(marker.removeprefix("@@RESULT@@"))


def integrity_problems(bundle: Path) -> list[str]:
    bundle = bundle.resolve()
    try:
        loaded = load_bundle(bundle)
    except RuntimeError as exc:
        return [str(exc)]
    problems = [f"import error in {path}: {error.strip()}" for path, error in loaded["import_errors"].items()]
    origin = loaded["feedline_origin"]
    if origin is not None and not Path(origin).resolve().is_relative_to(bundle):
        problems.append(f"feedline was imported from {origin}, not from the bundle")
    expected = expected_dag_ids(bundle)
    found = {d for d in loaded["dag_ids"] if d.startswith("feedline_")}
    for dag_id in sorted(expected - found):
        problems.append(f"no DAG {dag_id} (contract data/contracts/{dag_id.removeprefix('feedline_')})")
    for dag_id in sorted(found - expected):
        problems.append(f"DAG {dag_id} has no contract in data/contracts")
    if not expected:
        problems.append(f"{bundle}/data/contracts has no contract")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path, help="folder built by tools/bundle.py")
    args = parser.parse_args(argv)
    problems = integrity_problems(args.bundle)
    for problem in problems:
        print(f"FAIL {problem}")
    if not problems:
        print(f"ok   every contract has its DAG; no import errors ({args.bundle})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
