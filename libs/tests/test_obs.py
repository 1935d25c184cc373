"""Trace ids in log lines and the standard OTEL_* variables (each in a fresh interpreter: both are
process-wide configurations)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LOG_IN_A_TRACE = """
import structlog
from libs.obs.logging import configure_logging
from libs.obs.tracing import configure_tracing, server_span, resource_service_name
configure_tracing("accounts")
configure_logging("accounts")
log = structlog.get_logger("t")
headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
with server_span("handle", headers):
    log.info("inside_request")
    from libs.obs.tracing import current_traceparent
    print("ONWARDS=" + str(current_traceparent()))
with server_span("handle", None):
    log.info("new_trace")
log.info("outside_request")
print("SERVICE_NAME=" + resource_service_name())
"""


def run(code: str, **env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**base, **env}, capture_output=True,
                         text=True, timeout=60, check=True)
    return out.stdout.splitlines()


def test_log_lines_carry_the_trace_and_span_ids() -> None:
    lines = run(LOG_IN_A_TRACE)
    inside = json.loads(next(ln for ln in lines if "inside_request" in ln))
    assert inside["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert len(inside["span_id"]) == 16 and inside["span_id"] != "b7ad6b7169203331"  # this hop's own span
    # what is sent onwards (NATS headers, events) names this hop as the parent, in the same trace
    assert f"ONWARDS=00-0af7651916cd43dd8448eb211c80319c-{inside['span_id']}-01" in lines
    fresh = json.loads(next(ln for ln in lines if "new_trace" in ln))
    assert len(fresh["trace_id"]) == 32 and fresh["trace_id"] != inside["trace_id"]
    outside = json.loads(next(ln for ln in lines if "outside_request" in ln))
    assert "trace_id" not in outside
    assert "SERVICE_NAME=agentmessage-accounts" in lines


def test_otel_service_name_is_honoured() -> None:
    assert "SERVICE_NAME=sms-accounts-eu" in run(LOG_IN_A_TRACE, OTEL_SERVICE_NAME="sms-accounts-eu")
    assert "SERVICE_NAME=from-attrs" in run(LOG_IN_A_TRACE, OTEL_RESOURCE_ATTRIBUTES="service.name=from-attrs")
