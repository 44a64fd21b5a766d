"""The composition root: every service of a corral process, built once from the settings.

The HTTP server (`api.app`), the CLI's local runs and, later, job workers build the same
`Services` here; nothing in this module knows about HTTP.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import SecretStr

from corral.accounts.access import AccessService
from corral.accounts.admin import AccountsAdmin
from corral.accounts.directory import AccountDirectory
from corral.accounts.keys import KeyHasher, key_hasher
from corral.accounts.prices import PriceOverrides
from corral.accounts.service import Access, Accounts, Prices
from corral.catalog import Catalog, build_model_configs
from corral.catalog.catalog import PriceList, entry_for
from corral.catalog.digest import digest_of, model_facts
from corral.catalog.licences import build_licences
from corral.evals.store import EvalStore
from corral.files.store import FileStore
from corral.finetune.models import FineTunedModels
from corral.finetune.quote import Quotes, training_quotes
from corral.jobs.store import JobQueue
from corral.metering.idempotency_store import AnswerLimits, IdempotencyStore
from corral.metering.leases import ProcessLease
from corral.metering.ledger import Ledger
from corral.metering.pending import PendingCharges
from corral.metering.ratelimit import LocalRateLimiter, RateLimiter
from corral.metering.reservations import Reservations
from corral.metering.usage import UsageReports
from corral.money import to_micros
from corral.observability.metrics import Metrics
from corral.observability.readiness import Probe, Readiness
from corral.pipeline.admission import Admission
from corral.pipeline.auth import Authenticator
from corral.pipeline.entitlement import Entitlement
from corral.pipeline.gateway import Gateway
from corral.pipeline.guard import PrivacyGuard
from corral.pipeline.settlement import Settlement
from corral.privacy.audit import AuditLog
from corral.privacy.detect import Detector
from corral.routing import replicas
from corral.routing.router import Router
from corral.settings import Settings
from corral.storage import Database, open_database


@dataclass(slots=True)
class Services:
    """Everything a request handler or a job may use, built once at start (`build_services`)."""

    settings: Settings
    db: Database
    gateway: Gateway
    authenticator: Authenticator
    directory: AccountDirectory
    accounts: Accounts
    access: Access
    ledger: Ledger
    reservations: Reservations
    idempotency: IdempotencyStore
    usage: UsageReports
    prices: Prices
    audit: AuditLog
    metrics: Metrics
    readiness: Readiness
    files: FileStore
    jobs: JobQueue
    evals: EvalStore
    fine_tuned: FineTunedModels
    training_quotes: Quotes
    """Fine-tuning jobs' quotes, reserved when they are created."""
    ready: bool = False
    pending: PendingCharges | None = None
    """Streams' write-ahead bills (`metering.pending`), charged by the sweep when orphaned."""

    async def aclose(self) -> None:
        """Close what `build_services` opened: the models' backends, the ledger, the database."""
        await asyncio.gather(*(e.backend.close() for e in self.gateway.catalog.configured()))
        await self.ledger.aclose()
        self.db.close()


def build_catalog(settings: Settings) -> Catalog:
    entries = []
    for config in build_model_configs(settings):
        built = replicas.build(config, settings.routing, settings.schema_limits)
        digest = digest_of(model_facts(config, settings.home))
        entries.append(entry_for(config, built.backend, built.context_length, digest))
    return Catalog(entries, {route.name: route.models for route in settings.routes})


def accounts_admin(
    settings: Settings, db: Database, hasher: KeyHasher | None = None
) -> AccountsAdmin:
    """The blocking account operations, hashing keys with the secret every server uses."""
    hasher = hasher or key_hasher(settings.home, settings.key_secret)
    return AccountsAdmin(db, hasher, settings.privacy.default_policy, settings.account_limits)


def build_services(
    settings: Settings, admin_key: SecretStr, catalog: Catalog | None = None
) -> Services:
    """Everything a process needs; `catalog` replaces the configured models (tests, benchmarks)."""
    metrics = Metrics()
    catalog = catalog if catalog is not None else build_catalog(settings)
    metrics.watch_queue_depth(
        lambda: {e.id: e.backend.health().queue_depth for e in catalog.entries()}
    )
    metrics.watch_engines(  # local models' engines; a fine-tuned model's is its base's
        lambda: {
            e.id: stats
            for e in catalog.entries()
            if (stats := getattr(e.backend, "engine_stats", None)) is not None
        }
    )
    db = open_database(settings)
    directory = AccountDirectory(db)
    ledger = Ledger(db, settings.billing.reservation_timeout_s)
    process = ProcessLease(db, settings.idempotency.claim_lease_s)
    reservations = Reservations(
        ledger, renew_after_s=settings.billing.reservation_timeout_s / 3, process=process
    )
    limiter = rate_limiter(settings)
    pending = PendingCharges(
        db,
        ledger,
        process.id,
        grace_s=settings.idempotency.claim_lease_s,
        stale_s=settings.billing.reservation_timeout_s,
    )
    detector = Detector()
    if any(entry.tier == "partner" for entry in catalog.entries()):
        detector.load()  # now, with the objects the worker freezes once it is built
    gateway = Gateway(
        catalog,
        metrics,
        Entitlement(directory, build_licences(settings)),
        Admission(reservations, limiter, PriceList(directory.price_overrides)),
        Settlement(ledger, reservations, limiter, pending),
        Router(settings.routing),
        PrivacyGuard(detector, settings.privacy),
    )
    hasher = key_hasher(settings.home, settings.key_secret)
    fine_tuned = FineTunedModels(db, fine_tuned_prices(settings), settings.home)
    catalog.loader = fine_tuned.loader(catalog)
    return Services(
        settings=settings,
        db=db,
        gateway=gateway,
        authenticator=Authenticator(admin_key, directory, hasher),
        directory=directory,
        accounts=Accounts(accounts_admin(settings, db, hasher), db, directory),
        access=Access(AccessService(db), db, directory),
        ledger=ledger,
        reservations=reservations,
        idempotency=IdempotencyStore(
            db,
            settings.billing.idempotency_ttl_h,
            settings.billing.reservation_timeout_s,
            AnswerLimits(
                settings.idempotency.max_answer_bytes, settings.idempotency.max_tenant_bytes
            ),
            process,
        ),
        usage=UsageReports(db, settings.billing.currency),
        prices=Prices(PriceOverrides(db, settings.account_limits), db, directory),
        audit=AuditLog(db),
        metrics=metrics,
        readiness=Readiness(_dependency_probes(settings, db, limiter), settings.ops),
        files=FileStore(db, settings.home, settings.files, detector),
        jobs=JobQueue(db),
        evals=EvalStore(db),
        fine_tuned=fine_tuned,
        training_quotes=training_quotes(settings, ledger, db),
        pending=pending,
    )


def fine_tuned_prices(settings: Settings) -> tuple[int, int]:
    """What a fine-tuned model costs per million (prompt, completion) tokens, in micro-units."""
    prices = settings.finetuning
    return (to_micros(prices.input_price_per_mtok), to_micros(prices.output_price_per_mtok))


def _dependency_probes(settings: Settings, db: Database, limiter: RateLimiter) -> dict[str, Probe]:
    """What `/readyz` checks besides the models: the stores every request needs."""
    probes: dict[str, Probe] = {"database": lambda: db.run(db.scalar, "SELECT 1")}
    ping = getattr(limiter, "ping", None)
    if settings.redis_url is not None and ping is not None:
        probes["redis"] = ping
    return probes


_REDIS_TIMEOUT_S = 2.0


def rate_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url is None:
        return LocalRateLimiter()
    # Imported here: a deployment without Redis never loads its client (~6 MB).
    import redis.asyncio

    from corral.metering.ratelimit_redis import RedisRateLimiter

    # Bounded waits: a Redis that hangs fails requests with 503 instead of holding them.
    client = redis.asyncio.from_url(
        settings.redis_url.get_secret_value(),
        socket_connect_timeout=_REDIS_TIMEOUT_S,
        socket_timeout=_REDIS_TIMEOUT_S,
        client_name="corral-ratelimit",  # how an operator finds corral's in CLIENT LIST
    )
    return RedisRateLimiter(client, f"{settings.redis_namespace}:rl")
