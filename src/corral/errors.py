"""The one error hierarchy of corral.

Every failure a client can see is a `CorralError` subclass carrying its HTTP status and
OpenAI's error fields (`type`, `code`, `param`). The HTTP layer maps them to OpenAI's envelope
in one place (`corral.api.errors`); the CLI prints `message` on one line. `message` is what a
tenant reads: what went wrong for them, never an internal address, path or driver's text; that
goes in `detail`, which only the operator's log (and the CLI) shows.

Every error a client or an operator can see is defined here. A few exceptions stay in the module
that raises them because they never leave its package: each is a signal between two functions
of one component, caught there and turned into one of these (the remote transport's
`ProtocolError` and `ConnectionClosed` into an `UpstreamError`; `openai_api.wire`'s
`StatusError` and `StreamError`, `anthropic_api.streaming`'s `MalformedStream`; the privacy
detector's `DetectionTimeout` into a `PrivacyCheckTimeout`; SQLite's `_Busy`, a retry). Keeping
them local keeps this module free of transport details, and keeps them from being mistaken for
answers a client may get.
"""

from __future__ import annotations


class CorralError(Exception):
    """Base of every error corral reports to a client."""

    status_code = 500
    error_type = "server_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}
        self.detail = detail
        """For the operator only: the cause as the failing component told it."""


class ClientError(CorralError):
    """The request cannot be served as sent; retrying it unchanged will fail again."""

    status_code = 400
    error_type = "invalid_request_error"


class InvalidRequest(ClientError):
    """Malformed or semantically invalid request (400)."""


class ContextLengthExceeded(InvalidRequest):
    default_code = "context_length_exceeded"


class AuthenticationFailed(ClientError):
    status_code = 401
    default_code = "invalid_api_key"


class PermissionDenied(ClientError):
    status_code = 403
    error_type = "permission_error"


class NotFound(ClientError):
    status_code = 404
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class Conflict(ClientError):
    """The request clashes with a resource's state (an idempotency key in use, a name taken)."""

    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(ClientError):
    status_code = 413
    default_code = "request_too_large"


class RateLimited(ClientError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class BudgetExceeded(RateLimited):
    """The tenant's monthly budget cannot cover the request's maximum possible cost (429)."""

    default_code = "budget_exceeded"


class ClientClosedRequest(ClientError):
    """The client went away before the answer was ready (logged as 499; nobody reads it)."""

    status_code = 499
    default_code = "client_closed_request"


class RequestTimeout(ClientError):
    """The client was too slow sending its request's headers or body (408); closed."""

    status_code = 408
    default_code = "request_timeout"


class HeadersTooLarge(ClientError):
    status_code = 431
    default_code = "request_headers_too_large"


class TooManyConnections(RateLimited):
    """One client address holds as many open connections as the server allows it (429)."""

    default_code = "too_many_connections"


class ServerError(CorralError):
    """corral or something behind it failed; the same request may succeed later."""


class AdapterParityFailed(ServerError):
    """A fine-tuning job's converted adapter does not reproduce the trained model in llama.cpp
    (the job fails rather than publish a silently wrong model)."""

    default_code = "adapter_parity_failed"


class Overloaded(ServerError):
    """Every instance of the model is busy and its wait queue is full (503)."""

    status_code = 503
    error_type = "overloaded_error"
    default_code = "model_overloaded"

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class ServerAtCapacity(Overloaded):
    """The server process holds as many open connections as it allows in all (503)."""

    default_code = "too_many_connections"


class KVCacheFull(Overloaded):
    """A batched local model's shared KV cache has no cell left for a sequence (503)."""

    default_code = "kv_cache_full"


class BackendFailed(ServerError):
    status_code = 502
    error_type = "upstream_error"
    default_code = "backend_error"


class BackendTimeout(ServerError):
    status_code = 504
    error_type = "upstream_error"
    default_code = "backend_timeout"


class UpstreamFailure(CorralError):
    """A remote backend (a provider's API, an inference server) gave no answer: either its
    failure (`UpstreamError`, a server error) or its refusal of the request itself
    (`UpstreamRejected`, the client's). Both carry what the router needs to decide whether to
    try again or elsewhere."""

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        retryable: bool,
        retry_after_s: float | None = None,
        upstream_status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, code=code, detail=detail)
        self.backend = backend
        self.retryable = retryable
        """Worth trying again or elsewhere: 429, 5xx, timeouts, refused or broken connections."""
        self.retry_after_s = retry_after_s
        self.upstream_status = upstream_status


class UpstreamError(UpstreamFailure, ServerError):
    """A remote backend failed, or could not be reached (502)."""

    status_code = 502
    error_type = "upstream_error"
    default_code = "upstream_error"


class AllCandidatesFailed(UpstreamError):
    """Every model behind a route failed or was skipped; the last error says why (502)."""


class UpstreamRejected(UpstreamFailure, ClientError):
    """The provider refused the request itself (400, 404, 422): the client's to fix (400)."""

    status_code = 400
    error_type = "invalid_request_error"
    default_code = "upstream_rejected"


class StorageUnavailable(ServerError):
    """The database or the shared store did not answer; nothing was charged (503).

    Tenants read one fixed message; what failed and how (an address, the driver's words,
    `database or disk is full`) is the `detail`, for the operator's log."""

    status_code = 503
    error_type = "server_error"
    default_code = "storage_unavailable"
    MESSAGE = "The service's storage is unavailable; nothing was charged. Retry shortly."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(self.MESSAGE, detail=detail)


class PrivacyCheckTimeout(ServerError):
    """The privacy guard could not finish scanning a request for a partner model in its time;
    the request was not sent (503): corral never sends a partner unmasked text."""

    status_code = 503
    error_type = "server_error"
    default_code = "privacy_check_timeout"


class InvalidModelOutput(ServerError):
    """A task model's answer did not follow the task's schema, even after one repair attempt
    (502)."""

    status_code = 502
    error_type = "upstream_error"
    default_code = "invalid_model_output"


class ConfigError(Exception):
    """The configuration cannot be used; raised at start, never during a request."""


class SchemaLimitExceeded(InvalidRequest):
    """A JSON schema in `response_format` is beyond a configured limit (400)."""

    default_code = "schema_limit_exceeded"
