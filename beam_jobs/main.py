"""Flex template entry point (FLEX_TEMPLATE_PYTHON_PY_FILE in beam_jobs/Dockerfile).

Dataflow's launcher runs this file with the template's parameters (beam_jobs/metadata.json) as
pipeline options, plus the runner, project, region, temp/staging locations, service account and
network of the launch request, and ``--extra_package`` (FLEX_TEMPLATE_PYTHON_EXTRA_PACKAGES):
the job's wheel, built in the image, which the workers install without reaching PyPI. The
launcher imports the pipeline from that same wheel, installed in the image.
"""

import logging

from feedline_beam.pipeline import run

if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    run()
