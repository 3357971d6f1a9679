"""The runner of local runs: Beam's FnApiRunner, started directly, with workers forked in milliseconds.

``DirectRunner`` first tries Prism, which downloads its binary from the internet at every start
(and fails offline) before falling back to the FnApiRunner; :class:`LocalRunner` is that
FnApiRunner straight away, given the pipeline options the way DirectRunner gives them (so
multi-process workers see them too).

With ``--direct_running_mode=multi_processing`` and more than one worker, Beam starts every SDK
worker as a fresh ``python -m apache_beam.runners.worker.sdk_worker_main``: each one imports
apache_beam again (4-5 s on the 2-core development machine, longer than validating 100 MB).
Here the workers are forked instead, from a copy of the job's process taken before the runner
starts any thread or gRPC server (:class:`ForkServer`): every module is already imported, so a
worker is ready in a few milliseconds. What a worker runs is Beam's own ``sdk_worker_main``,
talking to the runner over gRPC exactly as a fresh one does; Beam only sees a command that
starts a worker (``_fork_client.py``) and exits with its exit code.

Run by name: ``--runner=feedline_beam.local_runner.LocalRunner`` (Beam imports a runner given by
its dotted path); Dataflow runs never touch this module.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import sys
import tempfile
import traceback
from pathlib import Path

from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.portability.api import beam_provision_api_pb2
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.transforms import environments

NAME = f"{__name__}.LocalRunner"
CLIENT = Path(__file__).with_name("_fork_client.py")
_LOGGER = logging.getLogger(__name__)
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def _read_request(conn: socket.socket) -> dict[str, str]:
    data = b""
    while chunk := conn.recv(1 << 16):
        data += chunk
    return json.loads(data)


def _run_worker(environment: dict[str, str]) -> int:
    """In a forked child: Beam's SDK worker with the environment its command was started with."""
    os.environ.clear()
    os.environ.update(environment)
    root = logging.getLogger()
    for handler in list(root.handlers):  # the job's own handlers: the worker logs to the runner
        root.removeHandler(handler)
    try:
        from apache_beam.runners.worker import sdk_worker_main

        sdk_worker_main.main(sys.argv)
        return 0
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported, then the exit code says it failed
        traceback.print_exc()
        return 1


def _serve(listener: socket.socket, parent: int, workers: int) -> None:
    """The fork server's loop: one forked SDK worker per connection, until it has forked
    ``workers`` (all a run starts: the runner starts its workers once, and a worker that dies
    fails the run) or the job ends. Then it exits: an idle copy of the job's process would only
    add its memory to the job's (it is its own process, so its resident pages count again)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    listener.settimeout(1.0)
    while workers > 0 and os.getppid() == parent:  # the job died without stopping us: stop too
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        environment = _read_request(conn)
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 1
            try:
                code = _run_worker(environment)
                conn.sendall(bytes([code & 0xFF]))
            finally:
                os._exit(code)
        conn.close()
        workers -= 1


def _adopt_orphans() -> None:
    """Make the job its workers' parent once the fork server has exited (Linux's child
    subreaper), so they stay in the job's process tree: what watches the job (a task's
    process, the bench's memory figure) still sees them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
    except (OSError, AttributeError):  # not Linux: the workers are the fork server's orphans
        _LOGGER.debug("no child subreaper here")


class ForkServer:
    """A copy of the job's process (forked before the runner starts threads) that forks
    ``workers`` SDK workers on request; ``command`` is what Beam runs to start one."""

    def __init__(self, workers: int) -> None:
        self.directory = tempfile.mkdtemp(prefix="feedline-workers-")
        self.path = os.path.join(self.directory, "fork.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(64)
        _adopt_orphans()
        parent = os.getpid()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                _serve(listener, parent, workers)
            finally:
                os._exit(0)
        listener.close()
        self.pid = pid

    @property
    def command(self) -> str:
        # -S: the client imports only the standard library, so it starts in ~10 ms.
        return " ".join(shlex.quote(part) for part in (sys.executable, "-S", str(CLIENT), self.path))

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _QuietModeWarning(logging.Filter):
    """FnApiRunner warns that in_memory mode with several workers runs them in one process; ours
    are processes (forked), so the warning would mislead the task log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "direct_running_mode" not in record.getMessage()


class LocalRunner(fn_runner.FnApiRunner):
    """FnApiRunner without DirectRunner's Prism attempt; multi-process workers are forked."""

    def run_pipeline(self, pipeline, options):
        from apache_beam.runners.portability.portable_runner import JobServiceHandle

        # As DirectRunner does: workers (forked ones included) receive the pipeline options.
        self._provision_info = fn_runner.ExtendedProvisionInfo(
            beam_provision_api_pb2.ProvisionInfo(
                pipeline_options=JobServiceHandle.encode_pipeline_options(options.get_all_options())
            )
        )
        direct = options.view_as(DirectOptions)
        workers = direct.direct_num_workers or os.cpu_count() or 1
        if direct.direct_running_mode != "multi_processing" or workers == 1:
            return super().run_pipeline(pipeline, options)
        quiet = _QuietModeWarning()
        logging.getLogger(fn_runner.__name__).addFilter(quiet)
        with ForkServer(workers) as server:
            _LOGGER.info("Running with %d worker processes forked from the job's process", workers)
            self._default_environment = environments.SubprocessSDKEnvironment.from_command_string(server.command)
            direct.direct_running_mode = "in_memory"  # keeps our environment (Beam's would start fresh interpreters)
            try:
                return super().run_pipeline(pipeline, options)
            finally:
                direct.direct_running_mode = "multi_processing"
                logging.getLogger(fn_runner.__name__).removeFilter(quiet)
