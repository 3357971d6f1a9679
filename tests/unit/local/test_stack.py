"""The local stack's pure parts: its environment, process specs, pid files (no process started
except a short-lived ``sleep`` that stands for a service)."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys

import pytest

from feedline.local import stack


@pytest.fixture
def config(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "logs").mkdir()
    return stack.StackConfig(root=tmp_path, airflow_port=18080, airflow_log_port=18793)


def test_from_env_reads_the_airflow_ports_and_schedules(monkeypatch, tmp_path):
    monkeypatch.setenv("FEEDLINE_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("FEEDLINE_AIRFLOW_PORT", "18123")
    monkeypatch.setenv("FEEDLINE_AIRFLOW_LOG_PORT", "18124")
    monkeypatch.delenv("FEEDLINE_AIRFLOW_SCHEDULES", raising=False)
    config = stack.StackConfig.from_env()
    assert (config.root, config.airflow_port, config.airflow_log_port) == (tmp_path.resolve(), 18123, 18124)
    assert config.airflow_url == "http://127.0.0.1:18123"
    assert config.airflow_schedules is False
    monkeypatch.setenv("FEEDLINE_AIRFLOW_SCHEDULES", "1")
    assert stack.StackConfig.from_env().airflow_schedules is True


def test_defaults_are_the_documented_ports(monkeypatch):
    for name in ("FEEDLINE_AIRFLOW_PORT", "FEEDLINE_AIRFLOW_LOG_PORT"):
        monkeypatch.delenv(name, raising=False)
    config = stack.StackConfig.from_env()
    assert (config.airflow_port, config.airflow_log_port) == (8080, 8793)


def test_airflow_env_points_every_component_at_the_stack_port(config):
    env = stack.service_env(config)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 4
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__PORT"] == "18080"
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:18080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "18793"
    assert env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(config.passwords_file)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert env["AIRFLOW_HOME"] == str(config.airflow_home)


def test_the_hostname_callable_resolves_to_loopback(config):
    module, _, name = stack.service_env(config)["AIRFLOW__CORE__HOSTNAME_CALLABLE"].rpartition(".")
    assert module == "feedline.local.stack"
    assert getattr(stack, name)() == "127.0.0.1"


def test_every_listener_binds_loopback(config):
    specs = stack._process_specs(config)
    assert set(specs) == set(stack.EMULATORS) | set(stack.AIRFLOW_SERVICES)

    def host_after(command, flag):
        return command[command.index(flag) + 1]

    assert host_after(specs["gcs"], "--host") == "127.0.0.1"
    assert host_after(specs["bigquery"], "--rest-host") == "127.0.0.1"
    assert host_after(specs["airflow-api"], "--host") == "127.0.0.1"
    assert host_after(specs["airflow-api"], "--port") == "18080"
    assert host_after(specs["airflow-logs"], "--host") == "127.0.0.1"
    assert host_after(specs["airflow-logs"], "--port") == "18793"
    # Airflow's own log servers bind every interface: the scheduler and triggerer skip them.
    assert "--skip-serve-logs" in specs["airflow-scheduler"]
    assert "--skip-serve-logs" in specs["airflow-triggerer"]


def test_the_password_is_random_per_stack_and_kept(tmp_path):
    a = stack.StackConfig(root=tmp_path / "a")
    b = stack.StackConfig(root=tmp_path / "b")
    password = stack.ensure_password(a)
    assert stack.ensure_password(a) == password and stack.airflow_password(a) == password
    assert stack.ensure_password(b) != password
    assert json.loads(a.passwords_file.read_text()) == {"admin": password}
    assert oct(a.passwords_file.stat().st_mode & 0o777) == "0o600"


def test_client_env_has_the_names_the_trigger_function_reads(config):
    stack.ensure_password(config)
    env = stack.client_env(config)
    assert env["FEEDLINE_AIRFLOW_URL"] == env["FEEDLINE_AIRFLOW_API_URL"] == "http://127.0.0.1:18080"
    assert env["FEEDLINE_AIRFLOW_AUTH"] == "password"
    assert env["FEEDLINE_AIRFLOW_USER"] == "admin"
    assert env["FEEDLINE_AIRFLOW_PASSWORD"] == stack.airflow_password(config)


@pytest.fixture
def sleeper():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def test_a_live_pid_file_is_kept(config, sleeper):
    stack._write_pid(config, "gcs", sleeper.pid)
    assert stack._read_pid(config, "gcs") == sleeper.pid
    assert stack._pid_file(config, "gcs").exists()


def test_a_dead_pid_is_stale_and_its_file_removed(config):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    stack._pid_file(config, "gcs").write_text(f"{process.pid} 12345")
    assert stack._read_pid(config, "gcs") is None
    assert not stack._pid_file(config, "gcs").exists()


def test_a_pid_reused_by_another_program_is_stale(config):
    # this test process is alive, but it is not the process the file recorded (other start time)
    stack._pid_file(config, "bigquery").write_text(f"{os.getpid()} 1")
    assert stack._read_pid(config, "bigquery") is None
    assert not stack._pid_file(config, "bigquery").exists()


def test_a_pid_file_without_start_time_or_garbage_is_stale(config):
    stack._pid_file(config, "slack").write_text(str(os.getpid()))
    assert stack._read_pid(config, "slack") is None
    stack._pid_file(config, "slack").write_text("not a pid")
    assert stack._read_pid(config, "slack") is None


def test_down_never_signals_a_reused_pid(config, sleeper):
    start = stack._start_time(sleeper.pid)
    stack._pid_file(config, "gcs").write_text(f"{sleeper.pid} {int(start) + 1}")
    assert stack.down(config)["gcs"] == "not running"
    assert sleeper.poll() is None


def test_down_stops_the_whole_process_group(config, sleeper):
    stack._write_pid(config, "slack", sleeper.pid)
    assert stack.down(config)["slack"] == "stopped"
    assert sleeper.wait(timeout=10) is not None
    assert not stack._pid_file(config, "slack").exists()


def test_a_service_exiting_during_up_reports_its_log(config):
    stack._log_file(config, "gcs").write_text("line 1\nOSError: address already in use\n")
    with pytest.raises(RuntimeError, match="(?s)gcs exited while starting.*address already in use"):
        stack._check_running(config, ("gcs",))


def test_log_tail_keeps_the_last_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join(f"{i}\n" for i in range(40)))
    assert stack.log_tail(log, 3) == "37\n38\n39"
    assert stack.log_tail(tmp_path / "missing.log") == "(no log)"


def test_airflow_health_is_none_when_nothing_answers(config):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        silent = dataclasses.replace(config, airflow_port=s.getsockname()[1])
        assert stack.airflow_health(silent) is None
        assert stack.status(silent)["airflow-scheduler"] == "down"
