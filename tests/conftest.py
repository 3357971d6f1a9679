"""Shared fixtures. ``local_stack`` starts a private copy of the local stack (its own folder and
free ports, so a running ``make demo`` stack is never touched) once per test session."""

from __future__ import annotations

import os
import socket

import pytest

from feedline.contract.model import load_contracts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def contracts():
    return load_contracts()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """The emulators + Slack receiver + Airflow DB, provisioned; yields the StackConfig."""
    from feedline.local import stack
    from feedline.local.provision import provision
    from feedline.settings import from_env

    root = tmp_path_factory.mktemp("stack")
    ports = {
        "FEEDLINE_LOCAL_DIR": str(root),
        "FEEDLINE_GCS_PORT": str(free_port()),
        "FEEDLINE_BQ_PORT": str(free_port()),
        "FEEDLINE_BQ_GRPC_PORT": str(free_port()),
        "FEEDLINE_SLACK_PORT": str(free_port()),
    }
    saved = dict(os.environ)
    os.environ.update(ports)
    config = stack.StackConfig.from_env()
    try:
        stack.up(config)
        stack.apply_env(config)
        provision(from_env(), load_contracts())
        stack.init_airflow(config)
        yield config
    finally:
        stack.down(config)
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def settings(local_stack):
    from feedline.settings import from_env

    return from_env()


@pytest.fixture
def gcs(settings):
    from feedline.local.provision import storage_client

    return storage_client(settings.project)


@pytest.fixture
def bq(settings):
    from feedline.local.provision import bigquery_client

    return bigquery_client(settings.project)
