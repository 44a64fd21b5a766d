"""The privacy audit log over HTTP: a tenant's own partner calls (`/v1/audit`)."""
