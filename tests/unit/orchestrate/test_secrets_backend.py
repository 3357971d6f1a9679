"""The secrets backend asks Secret Manager only for the connections that live there."""

from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.google.cloud.secrets.secret_manager import CloudSecretManagerBackend

from feedline.orchestrate import secrets_backend

KWARGS = {"connections_prefix": "airflow-connections", "sep": "-", "variables_prefix": None, "config_prefix": None}


@pytest.fixture
def no_credentials():
    with mock.patch(
        "airflow.providers.google.cloud.secrets.secret_manager.get_credentials_and_project_id",
        return_value=(None, "p-test"),
    ):
        yield


class FakeClient:
    def __init__(self):
        self.asked: list[str] = []

    def get_secret(self, secret_id, project_id):
        self.asked.append(f"{project_id}/{secret_id}")
        return '{"conn_type": "slackwebhook", "password": "x"}'


def backend(**extra) -> tuple[secrets_backend.LookupPatternSecretManagerBackend, FakeClient]:
    client = FakeClient()
    made = secrets_backend.LookupPatternSecretManagerBackend(**KWARGS, **extra)
    return made, client


def test_the_providers_backend_cannot_take_a_lookup_pattern(no_credentials):
    """Why the subclass exists: backend_kwargs with a lookup pattern would not even load."""
    with pytest.raises(TypeError, match="connections_lookup_pattern"):
        CloudSecretManagerBackend(**KWARGS, connections_lookup_pattern="^feedline_")


def test_only_matching_connections_are_looked_up(no_credentials):
    made, client = backend(connections_lookup_pattern="^(feedline_slack|feedline_pagerduty)$")
    with mock.patch.object(type(made), "client", new_callable=mock.PropertyMock, return_value=client):
        assert made.get_conn_value("google_cloud_default") is None
        assert made.get_conn_value("feedline_slack_extra") is None
        assert made.get_conn_value("feedline_slack") is not None
        assert made.get_conn_value("feedline_pagerduty") is not None
    assert client.asked == ["p-test/airflow-connections-feedline_slack", "p-test/airflow-connections-feedline_pagerduty"]


def test_without_a_pattern_every_id_is_looked_up_like_the_provider_does(no_credentials):
    made, client = backend()
    with mock.patch.object(type(made), "client", new_callable=mock.PropertyMock, return_value=client):
        made.get_conn_value("google_cloud_default")
    assert client.asked == ["p-test/airflow-connections-google_cloud_default"]


def test_variables_follow_their_own_pattern(no_credentials):
    made, client = backend(variables_lookup_pattern="^feedline_")
    made.variables_prefix = "airflow-variables"
    with mock.patch.object(type(made), "client", new_callable=mock.PropertyMock, return_value=client):
        assert made.get_variable("other") is None
        made.get_variable("feedline_x")
    assert client.asked == ["p-test/airflow-variables-feedline_x"]
