"""The Beam job's parameters are declared once (feedline.contract.job); metadata.json, the
launch and the job's options all say what that declaration says."""

from __future__ import annotations

import json
import re

from feedline.contract import job
from feedline.settings import REPO_ROOT

METADATA = json.loads((REPO_ROOT / "beam_jobs" / "metadata.json").read_text())


def test_metadata_json_is_exactly_the_declaration():
    assert METADATA["parameters"] == job.metadata_parameters()
    for declared, entry in zip(job.PARAMETERS, METADATA["parameters"]):
        assert (entry["name"], entry["helpText"], entry["regexes"]) == (declared.name, declared.help, list(declared.regexes))


def test_the_launch_parameters_are_the_six_required_ones_in_order():
    assert job.LAUNCH_PARAMETERS == ("feed", "contract", "input", "output_prefix", "batch_id", "ingested_at")
    assert [p.name for p in job.PARAMETERS if p.optional] == ["engine", "range_mb", "block_mb"]
    assert set(job.BY_NAME) == {p.name for p in job.PARAMETERS} and len(job.BY_NAME) == len(job.PARAMETERS)


def test_every_parameter_is_documented_and_its_regexes_anchored_and_valid():
    for parameter in job.PARAMETERS:
        assert parameter.label and len(parameter.help) > 20, parameter.name
        assert parameter.regexes, parameter.name
        for pattern in parameter.regexes:
            assert pattern.startswith("^") and pattern.endswith("$"), (parameter.name, pattern)
            re.compile(pattern)


def test_metadata_entry_shape():
    assert job.BY_NAME["engine"].metadata() == {
        "name": "engine", "label": "Validation engine", "helpText": job.BY_NAME["engine"].help,
        "isOptional": True, "regexes": ["^(columnar|row)$"],
    }
    assert job.BY_NAME["contract"].metadata()["paramType"] == "GCS_READ_FILE"
    assert "isOptional" not in job.BY_NAME["feed"].metadata()
