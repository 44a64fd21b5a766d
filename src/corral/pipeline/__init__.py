"""The request pipeline of DESIGN.md: each step a module with one job, run in order by `Gateway`.

authenticate (`auth`) → resolve the model through the catalog and check that the caller may
use it (`entitlement`), partner models behind the privacy guard (`guard`) → admit (`admission`:
rate limits, then a hold on the tenant's budget) → the backend, through the router → settle
(`settlement`: one usage record at the exact cost, the hold released).
"""
