"""The ledger on SQLite: its write-ahead log is folded back and started over under steady load."""

from __future__ import annotations

from pathlib import Path

from corral.metering.ledger import Ledger, Release
from corral.settings import load_settings
from corral.storage import open_database
from tests.metering.test_ledger import MONTH, new_tenant, usage

WAL_BOUND = 20 * 1024 * 1024


async def test_the_write_ahead_log_stays_small_under_steady_writes(tmp_path: Path) -> None:
    db = open_database(load_settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/c.db"))
    ledger = Ledger(db)
    tenant = new_tenant(db, budget_micros=None)
    try:
        # 3,000 requests' reservations and settlements: each commit adds pages to the log, over
        # 100 MB in all if it never started over.
        for n in range(3_000):
            request_id = f"req_{n}"
            grown = await ledger.grow_reservation("resv_a", tenant, MONTH, 10, 10, create=True)
            assert grown.granted
            await ledger.settle(usage(request_id, tenant, cost=3), Release("resv_a", 3))
        wal = tmp_path / "c.db-wal"
        assert wal.stat().st_size <= WAL_BOUND
    finally:
        await ledger.aclose()
        db.close()
