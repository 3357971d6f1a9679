"""Feedline: CSV feeds from a GCS bucket into BigQuery, on Cloud Composer (Airflow 3) and Beam.

The package is laid out by where each part runs; the layers are import contracts
(pyproject.toml ``[tool.importlinter]``, checked by ``make test``):

- ``contract``    the feed contracts and everything derived from them as data (table layouts,
                  object names, job parameters). Imports nothing of Feedline's.
- ``validate``    CSV reading and row validation: the row reference and the columnar fast path.
                  Imports ``contract`` only; runs in the Beam job and in ``feedline validate``.
- ``storage``     claiming and settling files on GCS. Imports ``contract`` and ``settings``.
- ``orchestrate`` the DAG factory, its tasks, SQL parameters, the Beam launch spec, alerts.
                  Never imports Beam or ``validate`` (Composer installs neither).
- ``settings``    deployment settings from ``FEEDLINE_*`` environment variables.
- ``local``       the laptop: emulators, the real Airflow, provisioning, demo, sample data.
                  May use everything; never shipped to Composer or Dataflow.
- ``cli``         the ``feedline`` command.

Composer gets ``contract``, ``storage``, ``orchestrate`` and ``settings`` (``make bundle``); the
flex template image gets ``contract``, ``validate`` and ``beam_jobs/feedline_beam``.
"""
