"""Usage ledger, budgets, rate limits, idempotency and invoices: every token accounted for."""
