"""Files on GCS: claiming a batch's files out of the landing prefix (exactly one run gets each)
and settling them afterwards (archive by date, or quarantine with the reason).

Runs in Composer tasks. Imports ``feedline.contract`` and ``feedline.settings`` only, and the
google-cloud-storage client; never Airflow, so it is tested against the GCS emulator directly.
"""
