"""The local stack: GCS and BigQuery emulators, a Slack webhook receiver, an Airflow home.

Every process binds to 127.0.0.1, keeps its data under one folder (``.local/`` by default) and
is started in its own process group so ``down`` stops it with all its children. The real Google
client libraries and Airflow's Google operators reach the emulators through the environment
that :func:`service_env` builds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from feedline.settings import REPO_ROOT, LocalSettings, from_env, local_from_env

PROJECT = "feedline-local"


@dataclass(frozen=True)
class StackConfig(LocalSettings):
    """The local settings (FEEDLINE_LOCAL_DIR and the ports, read in feedline.settings) and the
    paths and URLs derived from them."""

    @classmethod
    def from_env(cls) -> "StackConfig":
        return cls(**dataclasses.asdict(local_from_env()))

    @property
    def gcs_dir(self) -> Path:
        return self.root / "gcs"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def alerts_file(self) -> Path:
        return self.root / "slack" / "alerts.jsonl"

    @property
    def gcs_url(self) -> str:
        return f"http://127.0.0.1:{self.gcs_port}"

    @property
    def bq_url(self) -> str:
        return f"http://127.0.0.1:{self.bq_port}"

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.slack_port}/hooks/feedline"


def service_env(config: StackConfig) -> dict[str, str]:
    """Variables that point the Google clients, Airflow and Feedline at the local stack."""
    bin_dir = str(Path(sys.executable).parent)
    google_conn = {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": PROJECT}}
    slack_conn = {"conn_type": "slackwebhook", "password": config.slack_url}
    return {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "STORAGE_EMULATOR_HOST": config.gcs_url,
        "BIGQUERY_EMULATOR_HOST": config.bq_url,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        # Without these, google-auth probes the GCE metadata server and gcsfs waits 60 s a write.
        "NO_GCE_CHECK": "true",
        "GCE_METADATA_HOST": "127.0.0.1:1",
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        "AIRFLOW_HOME": str(config.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(google_conn),
        "AIRFLOW_CONN_FEEDLINE_SLACK": json.dumps(slack_conn),
        "FEEDLINE_ENV": "local",
        "FEEDLINE_PROJECT": PROJECT,
        "FEEDLINE_RUNNER": "direct",
        "FEEDLINE_LOCAL_DIR": str(config.root),
    }


def _process_specs(config: StackConfig) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    return {
        "gcs": [
            str(bin_dir / "gcp-storage-emulator"), "-d", str(config.gcs_dir),
            "start", "--host", "127.0.0.1", "--port", str(config.gcs_port), "-q",
        ],
        "bigquery": [
            str(bin_dir / "bqemulator"), "start", "--rest-host", "127.0.0.1",
            "--rest-port", str(config.bq_port), "--grpc-port", str(config.bq_grpc_port),
            "--persistent", "--data-dir", str(config.root / "bigquery"),
            "--project", PROJECT, "--log-level", "warning",
        ],
        "slack": [
            sys.executable, "-m", "feedline.local.slack_receiver",
            "--port", str(config.slack_port), "--out", str(config.alerts_file),
        ],
    }


def _health_urls(config: StackConfig) -> dict[str, str]:
    return {
        "gcs": f"{config.gcs_url}/storage/v1/b",
        "bigquery": f"{config.bq_url}/bigquery/v2/projects/{PROJECT}/datasets",
        "slack": f"http://127.0.0.1:{config.slack_port}/health",
    }


def _pid_file(config: StackConfig, name: str) -> Path:
    return config.root / "run" / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _read_pid(config: StackConfig, name: str) -> int | None:
    path = _pid_file(config, name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    return pid if pid and _alive(pid) else None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def install_duckdb_extensions() -> None:
    """bqemulator's DuckDB loads spatial; install it from the wheel, never from the network."""
    import duckdb
    import duckdb_extensions

    duckdb_extensions.import_extension("spatial", con=duckdb.connect())


def up(config: StackConfig, timeout: float = 90.0) -> dict[str, str]:
    """Start what is not running, wait until every service answers; returns name -> state."""
    for folder in ("run", "logs", "gcs", "bigquery", "slack", "airflow"):
        (config.root / folder).mkdir(parents=True, exist_ok=True)
    install_duckdb_extensions()
    env = {**os.environ, **service_env(config), "BQEMU_GCS_LOCAL_ROOT": str(config.gcs_dir / ".cloudstorage")}
    states = {}
    for name, command in _process_specs(config).items():
        if _read_pid(config, name):
            states[name] = "already running"
            continue
        log = open(config.root / "logs" / f"{name}.log", "ab")
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=config.root, start_new_session=True,
        )
        _pid_file(config, name).write_text(str(process.pid))
        states[name] = "started"
    deadline = time.monotonic() + timeout
    for name, url in _health_urls(config).items():
        while not _answers(url):
            if not _read_pid(config, name):
                raise RuntimeError(f"{name} exited; see {config.root / 'logs' / (name + '.log')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer {url} within {timeout:.0f}s")
            time.sleep(0.2)
    return states


def down(config: StackConfig) -> dict[str, str]:
    states = {}
    for name in _process_specs(config):
        pid = _read_pid(config, name)
        if pid is None:
            states[name] = "not running"
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(50):
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
        _pid_file(config, name).unlink(missing_ok=True)
        states[name] = "stopped"
    return states


def status(config: StackConfig) -> dict[str, str]:
    urls = _health_urls(config)
    result = {}
    for name in _process_specs(config):
        pid = _read_pid(config, name)
        if pid is None:
            result[name] = "down"
        else:
            result[name] = f"up (pid {pid}, {urls[name]})" if _answers(urls[name]) else f"starting (pid {pid})"
    return result


def wipe(config: StackConfig) -> None:
    """Delete all local data (the stack must be down)."""
    if any(_read_pid(config, name) for name in _process_specs(config)):
        raise RuntimeError("stop the stack first: feedline local down")
    shutil.rmtree(config.root, ignore_errors=True)


def apply_env(config: StackConfig) -> None:
    """Point this process's Google clients and Airflow at the stack."""
    os.environ.update(service_env(config))


def airflow(config: StackConfig, *args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    """Run the real ``airflow`` CLI against the stack's Airflow home."""
    env = {**os.environ, **service_env(config)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), *args],
        env=env, check=check, text=True,
        stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None,
    )


def init_airflow(config: StackConfig) -> None:
    """Create or upgrade the Airflow metadata database (SQLite under the stack folder)."""
    log = config.root / "logs" / "airflow-db.log"
    result = airflow(config, "db", "migrate", check=False, capture=True)
    log.write_text(result.stdout or "")
    if result.returncode:
        raise RuntimeError(f"airflow db migrate failed; see {log}")
    # The pool bounding the Beam jobs running at once (the cloud creates it at deploy time).
    settings = from_env({**os.environ, **service_env(config)})
    airflow(config, "pools", "set", settings.beam_pool, str(settings.beam_pool_slots), "Feedline Beam jobs", capture=True)
