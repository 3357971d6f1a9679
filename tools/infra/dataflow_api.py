"""The flex template's launch body and metadata.json against the Dataflow v1b3 API itself.

The API's shapes come from the discovery document google-api-python-client ships
(googleapiclient/discovery_cache/documents/dataflow.v1b3.json, the one DataflowHook builds its
client from), so a misspelt field (``ipConfig``), a wrong type (a number where the API takes a
string) or a value outside an enum fails offline, not as a 400 on the first launch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .wiring import REPO

JSON_TYPES = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "object": dict,
    "array": list,
}


def discovery_document() -> dict[str, Any]:
    import googleapiclient

    path = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "dataflow.v1b3.json"
    return json.loads(path.read_text())


def schema_problems(value: Any, schema: dict[str, Any], schemas: dict[str, Any], where: str) -> list[str]:
    """Where value does not fit the discovery schema: unknown fields, wrong JSON types, values
    outside an enum. Recurses through $ref, properties, additionalProperties and items."""
    if "$ref" in schema:
        return schema_problems(value, schemas[schema["$ref"]], schemas, where)
    kind = schema.get("type")
    expected = JSON_TYPES.get(kind)
    # JSON has no bool/int distinction in Python's isinstance: True is an int, never a string.
    if expected and (not isinstance(value, expected) or (kind in ("integer", "number") and isinstance(value, bool))):
        return [f"{where}: {type(value).__name__} {value!r} where the API takes {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    problems: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                problems += schema_problems(item, properties[key], schemas, f"{where}.{key}")
            elif extra is not None:
                problems += schema_problems(item, extra, schemas, f"{where}.{key}")
            else:
                problems.append(f"{where}.{key}: no such field in {schema.get('id', 'the schema')}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += schema_problems(item, schema["items"], schemas, f"{where}[{i}]")
    return problems


def request_problems(body: dict[str, Any], schema_id: str, document: dict[str, Any] | None = None) -> list[str]:
    document = document or discovery_document()
    return schema_problems(body, {"$ref": schema_id}, document["schemas"], schema_id)


def launch_method_problems(document: dict[str, Any]) -> list[str]:
    """The REST methods the DAGs use exist with the request schema the body is checked against."""
    locations = document["resources"]["projects"]["resources"]["locations"]["resources"]
    launch = locations["flexTemplates"]["methods"]["launch"]
    problems = []
    if launch["request"]["$ref"] != "LaunchFlexTemplateRequest":
        problems.append(f"flexTemplates.launch takes {launch['request']['$ref']}")
    if "name" not in locations["jobs"]["methods"]["list"]["parameters"]:
        problems.append("projects.locations.jobs.list has no name parameter (orchestrate/dataflow.py filters on it)")
    return problems


def sample_launch_body() -> dict[str, Any]:
    """The body a cloud DAG sends for the first contract (the real launch code, real settings
    shape), with the job name of a batch attempt."""
    from feedline.contract import naming
    from feedline.contract.model import load_contracts
    from feedline.orchestrate import dataflow, launch
    from feedline.settings import from_env

    settings = from_env({
        "FEEDLINE_ENV": "prod", "FEEDLINE_PROJECT": "p", "FEEDLINE_TEMPLATE_SPEC": "gs://p-feedline-prod-work/templates/feedline-ingest.json",
        "FEEDLINE_CONTRACTS_URI": "gs://p-feedline-prod-work/contracts", "FEEDLINE_WORK_BUCKET": "p-feedline-prod-work",
        "FEEDLINE_LANDING_BUCKET": "p-feedline-prod-landing", "FEEDLINE_DATAFLOW_SA": "df@p.iam.gserviceaccount.com",
        "FEEDLINE_DATAFLOW_SUBNETWORK": "regions/europe-west1/subnetworks/s",
    })
    contract = next(iter(load_contracts(REPO / "contracts").values()))
    batch_id = naming.batch_id_for_run(contract.feed, "scheduled__2026-12-01T00:00:00+00:00")
    spec = launch.launch_spec(settings, contract, batch_id, "2026-12-01T00:00:00.000000Z")
    body = launch.flex_template_body(settings, spec)
    body["launchParameter"]["jobName"] = dataflow.attempt_job_name(body["launchParameter"]["jobName"], 1)
    return body


def dataflow_api_problems(repo: Path = REPO) -> list[str]:
    document = discovery_document()
    metadata = json.loads((repo / "beam_jobs" / "metadata.json").read_text())
    return (
        launch_method_problems(document)
        + request_problems(sample_launch_body(), "LaunchFlexTemplateRequest", document)
        + [f"beam_jobs/metadata.json: {p}" for p in request_problems(metadata, "TemplateMetadata", document)]
    )
