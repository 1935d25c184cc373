"""Routes of the inbound feature."""

from __future__ import annotations

from services.gateway.api import Route

ROUTES: list[Route] = []
