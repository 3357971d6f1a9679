"""Flex template entry point (FLEX_TEMPLATE_PYTHON_PY_FILE in beam_jobs/Dockerfile).

Dataflow's launcher runs this file with the template's parameters (beam_jobs/metadata.json) as
pipeline options, plus the runner, project, region, temp/staging locations, service account and
network of the launch request, and ``--setup_file`` (FLEX_TEMPLATE_PYTHON_SETUP_FILE), so
the workers install the same feedline package.
"""

import logging

from feedline_beam.pipeline import run

if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    run()
