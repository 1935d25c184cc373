"""amctl: filters for events tail, and the CLI against a running gateway and NATS."""

from __future__ import annotations

from proto.subjects import Subjects
from services.amctl.events import filters_for


def test_filters_per_domain() -> None:
    s = Subjects()
    assert filters_for(s, "am.>", None)["outbound"] == "am.outbound.>"
    assert filters_for(s, "am.outbound.>", None) == {"outbound": "am.outbound.>"}
    assert filters_for(s, "am.>", "org1")["inbound"] == "am.inbound.*.*.org1"
    assert filters_for(s, "am.outbound.message.message_queued.*", None) == {
        "outbound": "am.outbound.message.message_queued.*"}


def test_keys_create_takes_scopes_and_caps(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from services.amctl import __main__ as cli

    sent: list[tuple[str, str, object]] = []
    monkeypatch.setattr(cli, "api", lambda method, path, body=None, auth=True: sent.append((method, path, body)) or 0)
    assert cli.main(["keys", "create", "bot", "--preset", "send-only", "--scope", "billing:read",
                     "--sends-per-day", "3", "--allow-recipient", "+1415", "--expires-at", "2030-01-01T00:00:00Z"]) == 0
    assert sent == [("POST", "/v1/api-keys", {"name": "bot", "preset": "send-only", "scopes": ["billing:read"],
                                              "caps": {"sends_per_day": 3, "allowed_recipients": ["+1415"],
                                                       "expires_at": "2030-01-01T00:00:00Z"}})]
