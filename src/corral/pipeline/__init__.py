"""The request pipeline of DESIGN.md: each step a module with one job, run in order by `Gateway`.

authenticate (`auth`) -> resolve the model (`Gateway` via the catalog) -> backend -> usage.
Entitlement, admission, the privacy guard and settlement plug in as further steps.
"""
