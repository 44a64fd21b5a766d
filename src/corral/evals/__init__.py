"""Evaluations (OpenAI's Evals API, plus signed manifests): an eval's items graded by its
testing criteria against a model of the catalogue, in a job (`eval_run`). See docs/evals.md."""
