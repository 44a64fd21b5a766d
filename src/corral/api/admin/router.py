"""HTTP routes of the admin API (the operator's key only)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin")
