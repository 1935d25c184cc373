"""Subject builders and stream specs. The root token is ``am`` in production; tests use their own root
so that each test run is isolated on a shared NATS server."""

from __future__ import annotations

from dataclasses import dataclass

from proto.base import Event

DOMAINS = ("accounts", "numbers", "compliance", "outbound", "inbound", "carrier")


@dataclass(frozen=True)
class Subjects:
    root: str = "am"

    def event(self, domain: str, aggregate: str, event_token: str, org_id: str) -> str:
        return f"{self.root}.{domain}.{aggregate}.{event_token}.{org_id}"

    def of(self, event_type: type[Event], org_id: str = "*") -> str:
        """The subject of one event type, for one organization or (``*``) for every one."""
        return self.event(event_type.DOMAIN, event_type.AGGREGATE, event_type.subject_token(), org_id)

    def domain_wildcard(self, domain: str) -> str:
        return f"{self.root}.{domain}.>"

    def command(self, domain: str, command: str) -> str:
        return f"{self.root}.cmd.{domain}.{command}"

    def stream_name(self, domain: str) -> str:
        return f"{self.root.upper()}_{domain.upper()}"

    def schema(self, service: str) -> str:
        return service if self.root == "am" else f"{self.root}_{service}"


@dataclass(frozen=True)
class StreamSpec:
    """One JetStream stream per producing domain: file storage, limits retention, a duplicate
    window keyed on Nats-Msg-Id (= event id). Replicas are 3 in production (AM_STREAM_REPLICAS)."""

    domain: str
    max_age_days: int = 30
    duplicate_window_s: int = 120
