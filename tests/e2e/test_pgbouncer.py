"""The whole system through a real PgBouncer in session mode, as on Kubernetes (the CloudNativePG Pooler
and AM_DB_PGBOUNCER=true): a message is accepted, dispatched and delivered. Skipped without a pgbouncer
binary (Debian: apt-get install pgbouncer)."""

from __future__ import annotations

from libs.tests import test_pgbouncer
from tests.e2e.test_outbound import onboard
from tests.system import running_system

pytestmark = test_pgbouncer.pytestmark
bouncer = test_pgbouncer.bouncer  # the fixture


async def test_a_message_goes_through_pgbouncer(bouncer: str, settings_env: dict[str, str]) -> None:
    env = {**settings_env, "AM_DATABASE_URL": bouncer, "AM_DB_PGBOUNCER": "true"}
    # small pools, all of them through the one PgBouncer (60 server connections)
    extra = {"AM_DB_POOL_MAX": "6", "AM_INBOUND_WEBHOOK_DB_POOL": "4", "AM_DB_POOL_MIN": "1"}
    async with running_system(env, extra) as system:
        org = await onboard(system)
        contact = await org.new_contact()
        await org.delivered(contact)
