"""One launch spec for the Beam job, rendered for Dataflow or for the local DirectRunner.

The cloud runs the job as a flex template (DataflowStartFlexTemplateOperator's ``body``); the
local stack runs the same pipeline module on DirectRunner (BeamRunPythonPipelineOperator's
``pipeline_options``). Both carry the same parameters, so what is tested locally is what
Dataflow receives. Pure functions; no Airflow or Beam imports.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from feedline.contract import job, naming
from feedline.contract.model import Contract
from feedline.settings import Settings

# Dataflow: lower-case letters, digits and hyphens, starting with a letter; at most 63 here so
# the name is also a valid label value.
JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# Declared once, in feedline.contract.job (the Beam job's options and metadata.json agree).
TEMPLATE_IMAGE_PARAMETERS = job.LAUNCH_PARAMETERS
# Local runs: Beam's FnApiRunner, started directly (DirectRunner first tries to download Prism,
# at every start), with multi-process workers forked from the job (feedline_beam.local_runner).
LOCAL_RUNNER = "feedline_beam.local_runner.LocalRunner"
# 0: the job picks: one worker per core for a batch of PARALLEL_MIN_MB or more, else it runs in
# its own process (feedline_beam.pipeline.choose_local_workers; figures in beam_jobs/README.md).
LOCAL_WORKER_OPTIONS: dict[str, Any] = {"direct_num_workers": 0, "direct_running_mode": "multi_processing"}


@dataclass(frozen=True)
class LaunchSpec:
    job_name: str
    parameters: dict[str, str]  # the pipeline's own options (metadata.json declares each)
    temp_location: str
    staging_location: str
    labels: dict[str, str]


def job_name(feed: str, batch_id: str) -> str:
    """Unique per batch, identical on every retry of the batch's launch; dataflow.py adds the
    claim attempt and makes a retry wait for that job instead of launching a twin."""
    digest = hashlib.sha256(batch_id.encode()).hexdigest()[:12]
    feed_part = re.sub(r"[^a-z0-9]+", "-", feed.lower()).strip("-")[:36]
    name = f"feedline-{feed_part}-{digest}"
    if not JOB_NAME.match(name):
        raise ValueError(f"feed {feed!r} gives an invalid Dataflow job name {name!r}")
    return name


def contract_uri(settings: Settings, contract: Contract) -> str:
    return f"{settings.contracts_uri.rstrip('/')}/{contract.feed}.yaml"


def launch_spec(settings: Settings, contract: Contract, batch_id: str, ingested_at: str) -> LaunchSpec:
    work = f"gs://{settings.work_bucket}"
    values = {
        "feed": contract.feed,
        "contract": contract_uri(settings, contract),
        "input": f"gs://{settings.landing_bucket}/{naming.processing_prefix(contract.feed, batch_id)}*",
        "output_prefix": f"{work}/{naming.output_prefix(contract.feed, batch_id)}",
        "batch_id": batch_id,
        "ingested_at": ingested_at,
    }
    return LaunchSpec(
        job_name=job_name(contract.feed, batch_id),
        parameters={name: values[name] for name in TEMPLATE_IMAGE_PARAMETERS},
        temp_location=f"{work}/dataflow/temp",
        staging_location=f"{work}/dataflow/staging",
        labels={"app": "feedline", "feed": contract.feed, "env": settings.env},
    )


def check_parameters(parameters: dict[str, str]) -> None:
    """Raise ValueError for a parameter the template does not declare or whose value its
    regexes refuse: the launch fails here, with the value, not as a Dataflow 400."""
    for name, value in parameters.items():
        declared = job.BY_NAME.get(name)
        if declared is None:
            raise ValueError(f"{name!r} is not a parameter of the Beam job")
        refused = [p for p in declared.regexes if not re.fullmatch(p, value)]
        if refused:
            raise ValueError(f"parameter {name}={value!r} does not match {refused[0]}")


def flex_template_body(settings: Settings, spec: LaunchSpec) -> dict[str, Any]:
    """DataflowStartFlexTemplateOperator ``body`` (projects.locations.flexTemplates.launch)."""
    if not settings.template_spec_path:
        raise ValueError("FEEDLINE_TEMPLATE_SPEC (gs:// path of the flex template spec) is not set")
    check_parameters(spec.parameters)
    environment: dict[str, Any] = {
        "tempLocation": spec.temp_location,
        "stagingLocation": spec.staging_location,
        "additionalUserLabels": spec.labels,
        # Workers reach GCS and BigQuery through Private Google Access; no public IPs.
        "ipConfiguration": "WORKER_IP_PRIVATE",
        "enableStreamingEngine": False,
    }
    if settings.dataflow_service_account:
        environment["serviceAccountEmail"] = settings.dataflow_service_account
    if settings.dataflow_subnetwork:
        environment["subnetwork"] = settings.dataflow_subnetwork
    return {
        "launchParameter": {
            "jobName": spec.job_name,
            "containerSpecGcsPath": settings.template_spec_path,
            "parameters": dict(spec.parameters),
            "environment": environment,
        }
    }


def direct_runner_options(spec: LaunchSpec) -> dict[str, Any]:
    """BeamRunPythonPipelineOperator ``pipeline_options`` for the same job run locally (its
    ``runner`` is LOCAL_RUNNER)."""
    return {**spec.parameters, "temp_location": spec.temp_location, "job_name": spec.job_name, **LOCAL_WORKER_OPTIONS}
