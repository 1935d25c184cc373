"""Test data shared by the end-to-end tests: a brand and a campaign that pass review."""

from __future__ import annotations

from typing import Any

BRAND: dict[str, Any] = {
    "entity_type": "PRIVATE_PROFIT", "display_name": "Acme Agents", "company_name": "Acme Agents Inc.",
    "ein": "12-3456789", "email": "ops@acme.example", "phone": "+14155550100", "website": "https://acme.example",
    "vertical": "TECHNOLOGY", "street": "1 Market St", "city": "San Francisco", "state": "CA",
    "postal_code": "94105", "country": "US",
}
CAMPAIGN: dict[str, Any] = {
    "use_case": "ACCOUNT_NOTIFICATION",
    "description": "Account alerts for Acme Agents customers: order updates and password resets.",
    "message_flow": "Customers opt in by ticking a checkbox on the signup form at acme.example/signup.",
    "sample_messages": ["Acme: your order 1234 has shipped. Reply STOP to opt out, HELP for help."],
}
CONFIRMATION = "Reply YES to confirm you want these messages. Reply STOP to opt out, HELP for help."
