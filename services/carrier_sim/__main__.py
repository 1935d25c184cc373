"""Entry point: ``python -m services.carrier_sim`` runs the simulator until SIGTERM or SIGINT."""

from __future__ import annotations

import os
import sys

import structlog
from aiohttp import web

from libs.obs.logging import configure_logging
from libs.runtime.service import run_loop, settle_heap, stop_signal

from .config import SimConfig, load_sim_config
from .sim import make_app

log = structlog.get_logger("carrier_sim")

SHUTDOWN_TIMEOUT_S = 5.0


async def serve(cfg: SimConfig) -> None:
    """Listen on cfg.host:cfg.port until a stop signal, then shut down cleanly."""
    stop = stop_signal()
    runner = web.AppRunner(make_app(cfg), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, cfg.host, cfg.port).start()
        log.info("sim_listening", host=cfg.host, port=cfg.port)
        settle_heap()
        await stop.wait()
        log.info("sim_stopping")
    finally:
        await runner.cleanup()
    log.info("sim_stopped")


def main() -> int:
    try:
        cfg = load_sim_config(os.environ)
    except ValueError as exc:
        configure_logging("carrier_sim")
        log.error("sim_config_invalid", error=str(exc))
        return 2
    configure_logging("carrier_sim", cfg.log_level)
    run_loop(serve(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
