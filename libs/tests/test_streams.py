"""Stream provisioning: created with the settings' limits; an operator's limits survive a restart."""

from __future__ import annotations

from dataclasses import replace

import nats

from libs.bus.conn import ensure_stream
from proto.subjects import StreamSpec, Subjects


async def test_limits_are_the_operators_once_the_stream_exists(nats_url: str, subject_root: str) -> None:
    subjects = Subjects(subject_root)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        name = subjects.stream_name("accounts")
        await ensure_stream(nc, subjects, StreamSpec("accounts"), max_age_s=3600.0, max_bytes=1 << 20)
        cfg = (await js.stream_info(name)).config
        assert (cfg.max_age, cfg.max_bytes) == (3600.0, 1 << 20)

        # an operator raises the limits (nats stream edit); a service restarts with its own settings
        await js.update_stream(replace(cfg, max_age=7200.0, max_bytes=2 << 20))
        await ensure_stream(nc, subjects, StreamSpec("accounts"), max_age_s=3600.0, max_bytes=1 << 20)
        cfg = (await js.stream_info(name)).config
        assert (cfg.max_age, cfg.max_bytes) == (7200.0, 2 << 20), "a restart undid the operator's change"

        # what publishing depends on is always put back
        await js.update_stream(replace(cfg, duplicate_window=5.0))
        await ensure_stream(nc, subjects, StreamSpec("accounts"))
        cfg = (await js.stream_info(name)).config
        assert cfg.duplicate_window == float(StreamSpec("accounts").duplicate_window_s)
        assert (cfg.max_age, cfg.max_bytes) == (7200.0, 2 << 20)

        # AM_STREAM_UPDATE_LIMITS=true: the settings win
        await ensure_stream(nc, subjects, StreamSpec("accounts"), max_age_s=3600.0, max_bytes=1 << 20,
                            update_limits=True)
        cfg = (await js.stream_info(name)).config
        assert (cfg.max_age, cfg.max_bytes) == (3600.0, 1 << 20)
    finally:
        await nc.close()
