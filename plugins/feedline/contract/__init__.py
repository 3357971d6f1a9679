"""Feed contracts, the one description of each feed (``contracts/<feed>.yaml``), and the facts
derived from them as data: BigQuery table layouts (``tables.json``), object and batch names.

Everything else in Feedline reads these; this package imports nothing of Feedline's outside
itself, and neither Airflow nor Beam, so Composer, the Beam job and Terraform's tests share it.
"""
