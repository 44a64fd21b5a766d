"""Assistant tasks over HTTP (`/v1/tasks/...`)."""
