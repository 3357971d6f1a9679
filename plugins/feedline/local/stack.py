"""The local stack: GCS and BigQuery emulators, a Slack webhook receiver and the real Airflow
(API server with the UI, scheduler, DAG processor, triggerer, one task-log server).

Every process binds to 127.0.0.1, keeps its data under one folder (``.local/`` by default) and
is started in its own process group so ``down`` stops it with all its children. A pid file
records the pid and the process's start time, so a pid reused by another program after a crash
is never mistaken for (or killed as) a stack service: the next ``up`` starts it again. The real
Google client libraries and Airflow's Google operators reach the emulators through the
environment that :func:`service_env` builds.
"""

from __future__ import annotations

import json
import os
import secrets
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
AIRFLOW_USER = "admin"
EMULATORS = ("gcs", "bigquery", "slack")
AIRFLOW_SERVICES = ("airflow-api", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-logs")
# /api/v2/monitor/health's component names -> the service that runs each.
HEALTH_COMPONENTS = {"scheduler": "airflow-scheduler", "dag_processor": "airflow-dag-processor",
                     "triggerer": "airflow-triggerer", "metadatabase": "airflow-api"}


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
    def lineage_dir(self) -> Path:
        """OpenLineage events of every task, one JSON file each (the provider's file transport)."""
        return self.root / "lineage"

    @property
    def alerts_file(self) -> Path:
        return self.root / "slack" / "alerts.jsonl"

    @property
    def passwords_file(self) -> Path:
        """The simple auth manager's password file: one random password per stack folder."""
        return self.airflow_home / "passwords.json"

    @property
    def gcs_url(self) -> str:
        return f"http://127.0.0.1:{self.gcs_port}"

    @property
    def bq_url(self) -> str:
        return f"http://127.0.0.1:{self.bq_port}"

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.slack_port}/hooks/feedline"

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"


def loopback_hostname() -> str:
    """Airflow's ``hostname_callable``: task logs are fetched from the log server at this host,
    which listens on 127.0.0.1 only (the machine's name may resolve to another interface)."""
    return "127.0.0.1"


def airflow_env(config: StackConfig) -> dict[str, str]:
    """Airflow settings: LocalExecutor sized for 2 cores, every listener on 127.0.0.1."""
    return {
        "AIRFLOW_HOME": str(config.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # LocalExecutor forks `parallelism` workers up front (32 by default).
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(config.airflow_schedules),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # Tasks reach the Execution API here; without it they dial localhost:8080.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(config.airflow_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": config.airflow_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.airflow_url}/execution/",
        # Airflow's own log servers bind every interface; the stack runs one on 127.0.0.1 for
        # worker and triggerer logs alike (same folder) and starts the components without theirs.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(config.airflow_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(config.airflow_log_port),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "feedline.local.stack.loopback_hostname",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(config.passwords_file),
        # Lineage to files (in Composer the provider's default sends it to Dataplex instead).
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(config.lineage_dir / "event")}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "feedline-local",
    }


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
        **airflow_env(config),
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(google_conn),
        "AIRFLOW_CONN_FEEDLINE_SLACK": json.dumps(slack_conn),
        "FEEDLINE_ENV": "local",
        "FEEDLINE_PROJECT": PROJECT,
        "FEEDLINE_RUNNER": "direct",
        "FEEDLINE_LOCAL_DIR": str(config.root),
    }


def airflow_password(config: StackConfig) -> str | None:
    if not config.passwords_file.exists():
        return None
    return json.loads(config.passwords_file.read_text()).get(AIRFLOW_USER)


def ensure_password(config: StackConfig) -> str:
    """A random password for this stack's Airflow user, made once (no secret in the repo)."""
    password = airflow_password(config)
    if password is None:
        password = secrets.token_urlsafe(12)
        config.passwords_file.parent.mkdir(parents=True, exist_ok=True)
        config.passwords_file.write_text(json.dumps({AIRFLOW_USER: password}))
        config.passwords_file.chmod(0o600)
    return password


def client_env(config: StackConfig) -> dict[str, str]:
    """What a script (or triggers/main.py) needs to call this stack's Airflow REST API."""
    return {
        "FEEDLINE_AIRFLOW_URL": config.airflow_url,
        "FEEDLINE_AIRFLOW_API_URL": config.airflow_url,  # the name triggers/main.py reads
        "FEEDLINE_AIRFLOW_AUTH": "password",
        "FEEDLINE_AIRFLOW_USER": AIRFLOW_USER,
        "FEEDLINE_AIRFLOW_PASSWORD": airflow_password(config) or "",
    }


def _process_specs(config: StackConfig) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    airflow = str(bin_dir / "airflow")
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
        "airflow-api": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(config.airflow_port),
                        "--workers", "1"],
        "airflow-scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "airflow-dag-processor": [airflow, "dag-processor"],
        "airflow-triggerer": [airflow, "triggerer", "--skip-serve-logs"],
        "airflow-logs": [
            sys.executable, "-m", "uvicorn", "--factory", "airflow.utils.serve_logs.log_server:create_app",
            "--host", "127.0.0.1", "--port", str(config.airflow_log_port), "--log-level", "warning",
        ],
    }


def _health_urls(config: StackConfig) -> dict[str, str]:
    return {
        "gcs": f"{config.gcs_url}/storage/v1/b",
        "bigquery": f"{config.bq_url}/bigquery/v2/projects/{PROJECT}/datasets",
        "slack": f"http://127.0.0.1:{config.slack_port}/health",
        "airflow-logs": f"http://127.0.0.1:{config.airflow_log_port}/",
    }


def _pid_file(config: StackConfig, name: str) -> Path:
    return config.root / "run" / f"{name}.pid"


def _log_file(config: StackConfig, name: str) -> Path:
    return config.root / "logs" / f"{name}.log"


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, ...] (field 3 onwards)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    """Running, not a zombie (a service started by this process stays one until reaped)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def _write_pid(config: StackConfig, name: str, pid: int) -> None:
    _pid_file(config, name).write_text(f"{pid} {_start_time(pid) or ''}".strip())


def _read_pid(config: StackConfig, name: str) -> int | None:
    """The service's pid, or None; a stale pid file (dead or reused pid) is removed."""
    path = _pid_file(config, name)
    if not path.exists():
        return None
    fields = path.read_text().split()
    pid = int(fields[0]) if fields and fields[0].isdigit() else 0
    started = fields[1] if len(fields) > 1 else None
    if pid and _alive(pid) and started is not None and _start_time(pid) == started:
        return pid
    path.unlink(missing_ok=True)
    return None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def install_duckdb_extensions() -> None:
    """bqemulator's DuckDB loads spatial; install it from the wheel, never from the network."""
    import duckdb
    import duckdb_extensions

    duckdb_extensions.import_extension("spatial", con=duckdb.connect())


def _start(config: StackConfig, names: tuple[str, ...]) -> dict[str, str]:
    """Start the named services that are not running; returns name -> state."""
    env = {**os.environ, **service_env(config), "BQEMU_GCS_LOCAL_ROOT": str(config.gcs_dir / ".cloudstorage")}
    specs, states = _process_specs(config), {}
    for name in names:
        if _read_pid(config, name):
            states[name] = "already running"
            continue
        with _log_file(config, name).open("ab") as log:
            process = subprocess.Popen(
                specs[name], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=config.root, start_new_session=True,
            )
        _write_pid(config, name, process.pid)
        states[name] = "started"
    return states


def _check_running(config: StackConfig, names: tuple[str, ...]) -> None:
    for name in names:
        if not _read_pid(config, name):
            log = _log_file(config, name)
            raise RuntimeError(f"{name} exited while starting; last lines of {log}:\n{log_tail(log)}")


def _wait_answering(config: StackConfig, names: tuple[str, ...], deadline: float) -> None:
    urls = _health_urls(config)
    for name in names:
        while not _answers(urls[name]):
            _check_running(config, (name,))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not answer {urls[name]} in time")
            time.sleep(0.2)


def airflow_health(config: StackConfig) -> dict[str, str] | None:
    """Component -> status from /api/v2/monitor/health, or None while the API does not answer."""
    try:
        with urllib.request.urlopen(f"{config.airflow_url}/api/v2/monitor/health", timeout=5) as response:
            body = json.load(response)
    except (OSError, ValueError):
        return None
    return {component: (body.get(component) or {}).get("status") or "unknown" for component in HEALTH_COMPONENTS}


def _wait_airflow_healthy(config: StackConfig, deadline: float) -> None:
    health = None
    while True:
        _check_running(config, AIRFLOW_SERVICES)
        health = airflow_health(config)
        if health and all(state == "healthy" for state in health.values()):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Airflow not healthy in time: {health or 'API not answering'}")
        time.sleep(1)


def up(config: StackConfig, *, airflow: bool = False, timeout: float = 90.0,
       airflow_timeout: float = 300.0) -> dict[str, str]:
    """Start what is not running (a stale pid file counts as not running) and wait until every
    service answers; with ``airflow`` also migrate the metadata DB, start the Airflow components
    and wait until /api/v2/monitor/health says all are healthy. Returns name -> state."""
    for folder in ("run", "logs", "gcs", "bigquery", "slack", "airflow", "lineage"):
        (config.root / folder).mkdir(parents=True, exist_ok=True)
    install_duckdb_extensions()
    states = _start(config, EMULATORS)
    _wait_answering(config, EMULATORS, time.monotonic() + timeout)
    if airflow:
        ensure_password(config)
        init_airflow(config)
        states.update(_start(config, AIRFLOW_SERVICES))
        deadline = time.monotonic() + airflow_timeout
        _wait_answering(config, ("airflow-logs",), deadline)
        _wait_airflow_healthy(config, deadline)
    return states


def _stop(config: StackConfig, name: str) -> str:
    pid = _read_pid(config, name)
    if pid is None:
        return "not running"
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.1)
    try:  # the group's stragglers too (the leader may exit before its children)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _pid_file(config, name).unlink(missing_ok=True)
    return "stopped"


def down(config: StackConfig) -> dict[str, str]:
    """Stop Airflow first (its tasks use the emulators), then the emulators."""
    return {name: _stop(config, name) for name in (*AIRFLOW_SERVICES, *EMULATORS)}


def status(config: StackConfig) -> dict[str, str]:
    urls = _health_urls(config)
    health = airflow_health(config) or {}
    by_service = {service: component for component, service in HEALTH_COMPONENTS.items() if service != "airflow-api"}
    result = {}
    for name in (*EMULATORS, *AIRFLOW_SERVICES):
        pid = _read_pid(config, name)
        if pid is None:
            result[name] = "down"
        elif name == "airflow-api":
            result[name] = (f"up (pid {pid}, {config.airflow_url}; metadatabase {health['metadatabase']})"
                            if health else f"starting (pid {pid})")
        elif name in by_service:
            result[name] = f"{health.get(by_service[name], 'unknown')} (pid {pid})"
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
