"""Airflow's secrets backend on Composer: Secret Manager, asked only for the connections that
live there.

CloudSecretManagerBackend (providers-google 22.8) asks Secret Manager for every connection id
(``google_cloud_default`` of every Google operator included) and logs a 403 at ERROR for each
secret the Composer account may not read, which is all but the alert connections. It has no
``connections_lookup_pattern`` (passing one is a TypeError: the backend would not load), so this
subclass adds it: an id that does not match is answered None at once, without a request, and
Airflow goes on to environment variables and its database (where Composer keeps
``google_cloud_default``). Configured by terraform/modules/composer_settings.
"""

from __future__ import annotations

import re

from airflow.providers.google.cloud.secrets.secret_manager import CloudSecretManagerBackend


class LookupPatternSecretManagerBackend(CloudSecretManagerBackend):
    """CloudSecretManagerBackend with ``connections_lookup_pattern`` and
    ``variables_lookup_pattern`` (regular expressions; None = look every id up)."""

    def __init__(
        self,
        *,
        connections_lookup_pattern: str | None = None,
        variables_lookup_pattern: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.connections_lookup_pattern = connections_lookup_pattern
        self.variables_lookup_pattern = variables_lookup_pattern

    @staticmethod
    def wanted(pattern: str | None, secret_id: str) -> bool:
        return pattern is None or re.match(pattern, secret_id) is not None

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        if not self.wanted(self.connections_lookup_pattern, conn_id):
            return None
        return super().get_conn_value(conn_id, team_name)

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        if not self.wanted(self.variables_lookup_pattern, key):
            return None
        return super().get_variable(key, team_name)
