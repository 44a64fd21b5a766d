"""The one validated configuration object: a TOML file plus `CORRAL_*` environment overrides.

`load_settings()` is called once at start; everything else receives the `Settings` it returns.
A bad key or value raises `ConfigError` naming it, so the process never starts half-configured.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from corral.accounts.bounds import AccountLimits
from corral.backends.schema_limits import SchemaLimits
from corral.errors import ConfigError
from corral.evals.config import EvalsConfig
from corral.files.config import FilesConfig
from corral.observability.readiness import OpsConfig
from corral.observability.redact import redact
from corral.server.limits import ConnectionLimits
from corral.settings_jobs import FineTuningConfig, JobsConfig
from corral.settings_models import (
    EMBEDDED_MODEL_FILE,
    EMBEDDED_MODEL_NAME,
    LICENCE_ID_PATTERN,
    MODEL_NAME_PATTERN,
    TENANT_NAME_PATTERN,
    LocalModelConfig,
    ModelConfig,
    Policy,
    Price,
    RemoteBackend,
    RemoteModelConfig,
    Replica,
    Tier,
)
from corral.tasks.limits import TaskInputLimits

__all__ = [
    "DOCS_ASSET_FILES",
    "EMBEDDED_MODEL_FILE",
    "EMBEDDED_MODEL_NAME",
    "LICENCE_ID_PATTERN",
    "MODEL_NAME_PATTERN",
    "TENANT_NAME_PATTERN",
    "BillingConfig",
    "ConsoleConfig",
    "IdempotencyConfig",
    "LicenceConfig",
    "LocalModelConfig",
    "ModelConfig",
    "Policy",
    "Price",
    "PrivacyConfig",
    "RemoteBackend",
    "RemoteModelConfig",
    "Replica",
    "RouteConfig",
    "RoutingConfig",
    "ServerConfig",
    "Settings",
    "Tier",
    "load_settings",
]


class LicenceConfig(BaseModel):
    """A licence open models can carry, with the terms corral enforces for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=LICENCE_ID_PATTERN)
    version: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    url: str | None = None
    text_file: Path | None = None
    """The licence text; its SHA-256 is recorded with every acceptance."""
    text_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    requires_acceptance: bool = False
    mau_threshold: int | None = Field(default=None, ge=1)
    """Tenants declaring more monthly active users than this need a separate grant."""
    gated: bool = False
    """Each tenant must request access to each model under this licence; the operator decides."""

    @field_validator("text_file")
    @classmethod
    def _text_file_exists(cls, path: Path | None) -> Path | None:
        if path is not None and not path.expanduser().is_file():
            raise ValueError(f"no such file: {path}")
        return path.expanduser() if path else None


class BillingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    reservation_timeout_s: int = Field(default=900, ge=10)
    """A budget reservation older than this is from a crashed process and is released."""
    idempotency_ttl_h: int = Field(default=24, ge=1, le=24 * 30)


class IdempotencyConfig(BaseModel):
    """Answers kept for `Idempotency-Key` retries, and the claims of requests still running."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_answer_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    """A larger answer is sent but not kept (`Idempotency-Stored: false`); a retry with its
    key gets 409 `idempotency_answer_not_stored`."""
    max_tenant_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024**4)
    """All of one tenant's kept answers together; beyond it, as for one answer too large."""
    claim_lease_s: float = Field(default=15.0, ge=3, le=3600)
    """A request's claim on its key is free for a retry this long after its process died
    (the process renews its lease every third of this while it lives)."""


class RouteConfig(BaseModel):
    """A name tenants use for an ordered list of models: the first that answers serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=MODEL_NAME_PATTERN)
    models: list[str] = Field(min_length=1)


class RoutingConfig(BaseModel):
    """Retries, backoff, deadlines and circuit breaking for remote backends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts_per_backend: int = Field(default=2, ge=1, le=10)
    backoff_initial_s: float = Field(default=0.2, ge=0, le=60)
    backoff_max_s: float = Field(default=5.0, ge=0, le=600)
    total_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    """Deadline of a request across every attempt and fallback."""
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    """Consecutive failures that open a backend's circuit (no calls until it cools down)."""
    breaker_reset_s: float = Field(default=30.0, gt=0, le=3600)
    """How long an open circuit waits before one probe request may try again."""


class PrivacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_policy: Policy = "pseudonymize"
    """The data policy of a new tenant unless one is given."""
    scan_max_chars: int = Field(default=1_000_000, ge=1000, le=100_000_000)
    """Characters of one request to a partner that the guard scans; beyond: 413."""
    scan_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """The scan's time; beyond, the partner call is refused (503), never sent unmasked."""


DOCS_ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")
"""What `server.api_docs_assets` holds: from the `swagger-ui-dist` and `redoc` npm packages."""


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    load_models: Literal["start", "first_use"] = "start"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    connections: ConnectionLimits = ConnectionLimits()
    api_docs_assets: Path | None = None
    """A directory with swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js: when set,
    `/docs` and `/redoc` are served from it (offline); unset, there are no such pages."""

    @field_validator("api_docs_assets")
    @classmethod
    def _assets_present(cls, path: Path | None) -> Path | None:
        if path is None:
            return None
        path = path.expanduser()
        missing = [name for name in DOCS_ASSET_FILES if not (path / name).is_file()]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        return path


class ConsoleConfig(BaseModel):
    """The web console's sessions (`api.console`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    idle_timeout_s: int = Field(default=30 * 60, ge=10, le=7 * 24 * 3600)
    """A session unused this long ends."""
    absolute_timeout_s: int = Field(default=12 * 3600, ge=10, le=30 * 24 * 3600)
    """A session ends this long after sign-in, however busy."""


class Settings(BaseSettings):
    """Effective configuration. Environment variables (`CORRAL_...`) override the file."""

    model_config = SettingsConfigDict(
        env_prefix="CORRAL_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    home: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("corral")))
    admin_key: SecretStr | None = None
    key_secret: SecretStr | None = None
    """HMAC secret for stored API key hashes; every replica sharing a database needs the same."""
    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    redis_namespace: str = Field(default="corral", pattern=r"^[A-Za-z0-9:_-]{1,64}$")
    """Prefix of every Redis key corral writes (several deployments can share one Redis)."""
    server: ServerConfig = ServerConfig()
    billing: BillingConfig = BillingConfig()
    idempotency: IdempotencyConfig = IdempotencyConfig()
    licences: list[LicenceConfig] = []
    routes: list[RouteConfig] = []
    routing: RoutingConfig = RoutingConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    account_limits: AccountLimits = AccountLimits()
    ops: OpsConfig = OpsConfig()
    schema_limits: SchemaLimits = SchemaLimits()
    task_inputs: TaskInputLimits = TaskInputLimits()
    files: FilesConfig = FilesConfig()
    jobs: JobsConfig = JobsConfig()
    finetuning: FineTuningConfig = FineTuningConfig()
    evals: EvalsConfig = EvalsConfig()
    console: ConsoleConfig = ConsoleConfig()
    embedded_model: bool = True
    embedded_model_dir: Path = Path(sys.prefix) / "share" / "corral" / "models"
    models: list[ModelConfig] = []

    @field_validator("home")
    @classmethod
    def _expand_home(cls, home: Path) -> Path:
        return home.expanduser()

    @model_validator(mode="after")
    def _model_names_unique(self) -> Settings:
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique, repeated: {', '.join(duplicates)}")
        known = {"apache-2.0", *(licence.id for licence in self.licences)}
        for model in self.models:
            if model.licence is not None and model.licence not in known:
                raise ValueError(f"model '{model.name}' names unknown licence '{model.licence}'")
        return self

    @property
    def embedded_model_path(self) -> Path:
        return self.embedded_model_dir / EMBEDDED_MODEL_FILE


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the config file (argument, else `CORRAL_CONFIG`), apply the environment, validate."""
    path = config_file or _env_path("CORRAL_CONFIG")
    file_values = _read_toml(path) if path else {}

    class _Layered(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _DictSource(settings_cls, file_values))

    try:
        layered = _Layered(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    return Settings.model_construct(**dict(layered))


class _DictSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _describe(exc: ValidationError, path: Path | None) -> str:
    where = f" in {path}" if path else ""
    problems = []
    for err in exc.errors():
        # "local"/"remote" name the branch of the `[[models]]` union pydantic tried, not a key.
        parts = [str(part) for part in err["loc"] if part not in ("local", "remote")]
        key = ".".join(parts) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        problems.append(f"{key}: {_redact(message)}")
    return f"invalid configuration{where}: " + "; ".join(problems)


def _redact(message: str) -> str:
    # Validation messages may echo input values; never let a URL's password through.
    return redact(message)
