"""Generate proto/schemas/: JSON Schema of every event and an AsyncAPI document of the subjects.

``python -m proto.gen`` writes them; ``--check`` fails when the committed files drift from the Structs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec

from proto.events import all_event_types
from proto.subjects import DOMAINS

OUT = Path(__file__).parent / "schemas"


def _pretty(obj: Any) -> str:
    return msgspec.json.format(msgspec.json.encode(obj), indent=2).decode() + "\n"


def render() -> dict[str, str]:
    types = all_event_types()
    _, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    files: dict[str, str] = {}
    for t in types:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": t.__name__,
                  "description": (t.__doc__ or "").strip(), **components[t.__name__]}
        files[f"events/{t.DOMAIN}/{t.__name__}.json"] = _pretty(schema)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for t in types:
        name = t.__name__
        address = f"am.{t.DOMAIN}.{t.AGGREGATE}.{t.subject_token()}.{{org_id}}"
        channels[name] = {
            "address": address,
            "parameters": {"org_id": {"description": "The organization the event belongs to."}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "description": f"Captured by stream AM_{t.DOMAIN.upper()}",
        }
        operations[f"on{name}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{name}"}}
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (t.__doc__ or "").strip().split("\n")[0],
            "headers": {"type": "object", "properties": {
                "Nats-Msg-Id": {"type": "string", "description": "= event_id; de-duplicates re-publishes"},
                "traceparent": {"type": "string"},
                "Am-Correlation-Id": {"type": "string"},
                "Am-Causation-Id": {"type": "string"},
            }},
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
    asyncapi = {
        "asyncapi": "3.0.0",
        "info": {"title": "AgentMessage events", "version": "1.0.0",
                 "description": "Events on am.<domain>.<aggregate>.<event>.<org_id>, one JetStream stream per "
                                f"domain ({', '.join('AM_' + d.upper() for d in DOMAINS)})."},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }
    files["asyncapi.json"] = _pretty(asyncapi)
    return files


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        drift = [p for p, text in files.items() if not (OUT / p).exists() or (OUT / p).read_text() != text]
        existing = {str(p.relative_to(OUT)) for p in OUT.rglob("*.json")}
        stale = sorted(existing - set(files))
        if drift or stale:
            print("proto/schemas drifted from the Structs; run `make schemas`:", *drift, *stale, sep="\n  ")
            return 1
        return 0
    for old in OUT.rglob("*.json"):
        old.unlink()
    for rel, text in files.items():
        (OUT / rel).parent.mkdir(parents=True, exist_ok=True)
        (OUT / rel).write_text(text)
    print(f"wrote {len(files)} files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
