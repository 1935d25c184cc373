"""Routes of the messages feature."""

from __future__ import annotations

from services.gateway.api import Route

ROUTES: list[Route] = []
