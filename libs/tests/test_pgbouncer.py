"""The pools behind a real PgBouncer in session mode, as the Kubernetes Pooler runs it: the session
settings arrive (SET, since PgBouncer refuses them as startup parameters), survive a full reset, and
what needs a session (migrations, LISTEN/NOTIFY) works. Skipped without a pgbouncer binary
(Debian: apt-get install pgbouncer)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from libs.embedded.ports import free_port
from libs.store.db import create_pool, ensure_database, migrate

PGBOUNCER = shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer",) if os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="no pgbouncer binary (apt-get install pgbouncer)")


@pytest.fixture
def bouncer(database_url: str) -> Iterator[str]:
    """A session-mode PgBouncer in front of the test database; yields its DSN. The database must exist
    (CloudNativePG creates it; here the first direct connection would)."""
    assert PGBOUNCER is not None
    asyncio.run(ensure_database(database_url))
    u = urlsplit(database_url)
    query = {k: v[0] for k, v in parse_qs(u.query).items()}
    host, port = query.get("host", u.hostname or "127.0.0.1"), query.get("port", str(u.port or 5432))
    user, password, db = u.username or "postgres", u.password or "", u.path.lstrip("/") or "postgres"
    port_out = free_port()
    with tempfile.TemporaryDirectory(prefix="am-pgb-") as d:
        os.chmod(d, 0o777)  # pgbouncer refuses to run as root: it runs as nobody when we are root
        (Path(d) / "users.txt").write_text(f'"{user}" "{password}"\n')
        (Path(d) / "pgbouncer.ini").write_text(f"""[databases]
{db} = host={host} port={port} user={user} {f"password={password}" if password else ""}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port_out}
unix_socket_dir =
auth_type = {"plain" if password else "trust"}
auth_file = {d}/users.txt
pool_mode = session
default_pool_size = 60
logfile = {d}/pgbouncer.log
pidfile = {d}/pgbouncer.pid
""")
        for f in Path(d).iterdir():
            f.chmod(0o644)
        cmd = [PGBOUNCER, f"{d}/pgbouncer.ini"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:  # until it listens
                try:
                    socket.create_connection(("127.0.0.1", port_out), timeout=1).close()
                    break
                except OSError:
                    assert proc.poll() is None, (Path(d) / "pgbouncer.log").read_text()
                    assert time.monotonic() < deadline, "pgbouncer did not start"
                    time.sleep(0.05)
            auth = f"{user}:{password}@" if password else f"{user}@"
            yield f"postgresql://{auth}127.0.0.1:{port_out}/{db}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def test_startup_parameters_are_refused_so_the_settings_are_set(bouncer: str, subject_root: str) -> None:
    schema = f"{subject_root}_pgb"
    # what the services sent before AM_DB_PGBOUNCER: PgBouncer closes the connection
    with pytest.raises(asyncpg.PostgresError, match="unsupported startup parameter"):
        await asyncpg.connect(bouncer, server_settings={"search_path": schema})

    pool = await create_pool(bouncer, schema, max_size=2, custom_plans=True, pgbouncer=True)
    try:
        await migrate(pool, schema, None)  # an advisory lock and DDL, through the pooler
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW search_path") in {schema, f'"{schema}"'}
            assert await conn.fetchval("SHOW enable_seqscan") == "off"
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
            assert await conn.fetchval("SELECT count(*) FROM events") == 0  # found through search_path
            # a connection that held session state gets the full reset (RESET ALL) on release...
            conn.hold_session_state()
            got: asyncio.Queue[str] = asyncio.Queue()
            def on_notify(*args: object) -> None:
                got.put_nowait(str(args[3]))

            await conn.add_listener("am_pgb_test", on_notify)
            await pool.execute("SELECT pg_notify('am_pgb_test', 'hello')")
            assert await asyncio.wait_for(got.get(), 10) == "hello"
            await conn.remove_listener("am_pgb_test", on_notify)
        for _ in range(4):  # ...and keeps its settings afterwards, whichever connection comes back
            async with pool.acquire() as conn:
                assert await conn.fetchval("SHOW search_path") in {schema, f'"{schema}"'}
                assert await conn.fetchval("SHOW enable_seqscan") == "off"
    finally:
        await pool.close()
