"""The batch's Dataflow launch, safe to retry.

Each batch attempt has one job name (:func:`attempt_job_name`). Dataflow refuses a second active
job of a name, so a retry of ``validate_rows`` while the first job still runs (or after it
finished, e.g. the triggerer restarted) used to fail on every try. :class:`BatchFlexTemplateOperator`
first lists the project/region's jobs of that name: an active one is waited for (deferred, like a
fresh launch), a done one is taken as the result, and only if neither exists (none, or only
failed/cancelled ones) is the flex template launched. The choice is :func:`reusable_job` (pure).
"""

from __future__ import annotations

from typing import Any, Sequence

from airflow.providers.google.cloud.hooks.dataflow import DataflowJobStatus
from airflow.providers.google.cloud.links.dataflow import DataflowJobLink
from airflow.providers.google.cloud.operators.dataflow import DataflowStartFlexTemplateOperator
from airflow.providers.google.cloud.triggers.dataflow import TemplateJobStartTrigger
from airflow.providers.google.common.consts import GOOGLE_DEFAULT_DEFERRABLE_METHOD_NAME

from feedline.orchestrate import launch

DONE = DataflowJobStatus.JOB_STATE_DONE
TERMINAL = DataflowJobStatus.TERMINAL_STATES


def attempt_job_name(job_name: str, attempt: int) -> str:
    """The batch's job name for one claim attempt: a re-run of the batch (a new attempt, whose
    outputs were cleared) must not reuse the done job of an earlier attempt; a retry of the
    same attempt finds its own job."""
    name = f"{job_name}-a{int(attempt)}"
    if not launch.JOB_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid Dataflow job name")
    return name


def reusable_job(jobs: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The job a retry waits for instead of launching: the newest active job of the name, else
    the newest done one; None if there is neither (a failed job is retried with a new one)."""
    same = sorted((j for j in jobs if j.get("name") == name), key=lambda j: j.get("createTime", ""), reverse=True)
    active = [j for j in same if j.get("currentState") not in TERMINAL]
    done = [j for j in same if j.get("currentState") == DONE]
    return (active or done or [None])[0]


def list_jobs(service, project_id: str, location: str, name: str) -> list[dict[str, Any]]:
    """projects.locations.jobs.list of the name, every page (the v1b3 discovery client)."""
    jobs_api = service.projects().locations().jobs()
    request = jobs_api.list(projectId=project_id, location=location, name=name, filter="ALL")
    jobs: list[dict[str, Any]] = []
    while request is not None:
        response = request.execute()
        jobs.extend(response.get("jobs", []))
        request = jobs_api.list_next(previous_request=request, previous_response=response)
    return jobs


def launch_parameter(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("launchParameter") or body["launch_parameter"]


class BatchFlexTemplateOperator(DataflowStartFlexTemplateOperator):
    """DataflowStartFlexTemplateOperator (deferrable) that names the job per batch attempt and
    waits for that job if a previous try already launched it."""

    template_fields: Sequence[str] = (*DataflowStartFlexTemplateOperator.template_fields, "attempt")

    def __init__(self, *, attempt: int | str, **kwargs) -> None:
        super().__init__(append_job_name=False, deferrable=True, **kwargs)
        self.attempt = attempt

    def execute(self, context):
        parameter = launch_parameter(self.body)
        parameter["jobName"] = attempt_job_name(parameter["jobName"], int(self.attempt))
        jobs = list_jobs(self.hook.get_conn(), self.project_id, self.location, parameter["jobName"])
        job = reusable_job(jobs, parameter["jobName"])
        if job is None:
            return super().execute(context)
        self.log.info("Job %s (%s) is the batch's: %s, not launching another", job["name"], job["id"], job["currentState"])
        self.job = job
        DataflowJobLink.persist(context=context, project_id=self.project_id, region=self.location, job_id=job["id"])
        if job["currentState"] == DONE:
            context["task_instance"].xcom_push(key="job_id", value=job["id"])
            return job
        self.defer(
            trigger=TemplateJobStartTrigger(
                project_id=self.project_id,
                job_id=job["id"],
                location=self.location,
                gcp_conn_id=self.gcp_conn_id,
                poll_sleep=self.poll_sleep,
                impersonation_chain=self.impersonation_chain,
                cancel_timeout=self.cancel_timeout,
                drain_pipeline=self.drain_pipeline,
                cancel_on_kill=self.cancel_on_kill,
            ),
            method_name=GOOGLE_DEFAULT_DEFERRABLE_METHOD_NAME,
        )
