"""Files a tenant uploads (OpenAI's Files API): stored under `CORRAL_HOME/files`, recorded in
the `files` table, checked on the way in (JSONL for fine-tuning and evaluations, with a count
of personal data found in training files), read back by the jobs that use them.

Nothing is imported here: `corral.settings` reads `files.config`, and the store needs settings.
"""
