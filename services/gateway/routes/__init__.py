"""The explicit route table: one module per feature, each exporting ROUTES."""

from __future__ import annotations

from services.gateway.api import Route
from services.gateway.routes import (
    accounts,
    brands,
    consent,
    conversations,
    inbound,
    messages,
    numbers,
    sessions,
)


def all_routes() -> list[Route]:
    return [*accounts.ROUTES, *sessions.ROUTES, *numbers.ROUTES, *inbound.ROUTES, *brands.ROUTES, *consent.ROUTES,
            *messages.ROUTES, *conversations.ROUTES]
