"""The one callback URL rule (libs.webhooks.urls): hostile forms refused when saved, names resolving
to non-public addresses refused, and delivery connecting only to the address it checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from libs.testing.dns import fake_dns
from libs.testing.receiver import receiving
from libs.webhooks import urls
from proto.base import CommandError

HOSTILE_LITERALS = [
    # IPv4 private, loopback, link-local, CGNAT, metadata, reserved
    "https://10.0.0.1/", "https://172.16.5.4/", "https://192.168.1.1/", "https://127.0.0.1/",
    "https://127.1.2.3/", "https://169.254.169.254/latest/meta-data/", "https://100.100.100.200/",
    "https://100.64.0.1/", "https://100.127.255.254/", "https://0.0.0.0/", "https://192.0.0.170/",
    "https://198.18.0.1/", "https://192.0.2.1/", "https://224.0.0.1/", "https://239.255.255.250/",
    "https://240.0.0.1/", "https://255.255.255.255/", "https://192.88.99.1/",
    # numeric shorthand a resolver may read as an address
    "https://2130706433/", "https://0x7f000001/", "https://0177.0.0.1/", "https://0x7f.0.0.1/",
    "https://127.1/", "https://017700000001/", "https://3232235777/", "https://0xa9fea9fe/",
    "https://169.254.43518/", "https://0251.0376.0251.0376/",
    # IPv6 forms
    "https://[::1]/", "https://[::]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:a9fe:a9fe]/", "https://[::127.0.0.1]/", "https://[2002:a9fe:a9fe::]/",
    "https://[2002:7f00:1::]/", "https://[2002:c0a8:101::1]/", "https://[64:ff9b::a9fe:a9fe]/",
    "https://[64:ff9b::10.0.0.1]/", "https://[64:ff9b:1::a00:1]/", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "https://[fe80::1]/", "https://[fe80::1%25eth0]/", "https://[fc00::1]/", "https://[fd00:ec2::254]/",
    "https://[fec0::1]/", "https://[ff02::1]/", "https://[2001:db8::1]/", "https://[100::1]/",
    "https://[fe80::200:5efe:a9fe:a9fe]/",
    # userinfo, schemes, names of this host, malformed
    "https://user:pass@93.184.216.34/", "https://93.184.216.34@169.254.169.254/", "https://@example.com/",
    "http://93.184.216.34/", "ftp://93.184.216.34/", "file:///etc/passwd", "gopher://127.0.0.1:6379/_x",
    "https://localhost/", "https://api.localhost/", "https://localhost./", "https:///nohost",
    "https://exa mple.com/", "https://example.com\\@169.254.169.254/", "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",
    "https://example.com:0/", "https://example.com:99999/", "//169.254.169.254/", "169.254.169.254",
    "", "https://" + "a" * 2050 + ".com/",
]

DEV_ALSO_REFUSED = [
    "https://169.254.169.254/latest/meta-data/", "http://169.254.169.254/", "https://100.100.100.200/",
    "https://100.64.0.1/", "https://10.0.0.1/", "http://10.0.0.1/", "https://[2002:a9fe:a9fe::]/",
    "https://[::ffff:169.254.169.254]/", "http://192.168.1.1:8080/", "https://0.0.0.0/", "http://0.0.0.0:80/",
    "http://2130706433/", "http://127.1/", "https://[fe80::1]/", "https://[fd00::1]/",
    "http://example.com/", "https://user:pw@127.0.0.1/",
]


@pytest.mark.parametrize("url", HOSTILE_LITERALS)
async def test_hostile_forms_refused_in_production(url: str) -> None:
    with pytest.raises(CommandError) as err:
        await urls.check_url(url, "inbound_url", "prod")
    assert err.value.status == 400 and err.value.code == "VALIDATION_ERROR"
    assert err.value.details == {"field": "inbound_url"}


@pytest.mark.parametrize("url", DEV_ALSO_REFUSED)
async def test_dev_relaxes_only_loopback(url: str) -> None:
    with pytest.raises(CommandError):
        await urls.check_url(url, "status_callback_url", "dev")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://localhost:9000/x", "http://[::1]:9/x",
                                 "https://127.0.0.1/x", "http://[::ffff:127.0.0.1]:80/"])
async def test_dev_accepts_a_loopback_receiver(url: str) -> None:
    assert await urls.check_url(url, "inbound_url", "test") == url
    with pytest.raises(CommandError):
        await urls.check_url(url, "inbound_url", "prod")


@pytest.mark.parametrize("url", ["https://93.184.216.34/x", "https://[2606:4700:4700::1111]/hook",
                                 "https://[2002:5db8:d822::1]/x",
                                 "https://8.8.8.8:8443/a?b=c"])
async def test_public_literals_pass(url: str) -> None:
    assert await urls.check_url(url, "u", "prod") == url


@pytest.fixture
def dns() -> Iterator[dict[str, list[str]]]:
    """A test resolver: host name → addresses (the test may change them between calls); ``["__calls__"]``
    lists the names looked up."""
    calls: list[str] = []
    with fake_dns({"__calls__": calls}, calls) as table:
        yield table
        urls.forget_checks()


@pytest.mark.parametrize("addresses", [
    ["10.1.2.3"], ["93.184.216.34", "127.0.0.1"], ["169.254.169.254"], ["100.100.100.200"], ["::1"],
    ["fd00::5"], ["2002:a9fe:a9fe::"], ["::ffff:10.0.0.1"], ["100.64.1.1"], ["0.0.0.0"],
])
async def test_names_resolving_to_non_public_addresses_refused(dns: dict[str, list[str]],
                                                                addresses: list[str]) -> None:
    dns["hooks.example.com"] = addresses
    for env in ("prod", "dev"):
        if env == "dev" and any(a in ("::1", "127.0.0.1") for a in addresses):  # loopback: dev allows
            continue
        with pytest.raises(CommandError, match="must not resolve"):
            await urls.check_url("https://hooks.example.com/sms", "inbound_url", env)


async def test_unresolvable_names(dns: dict[str, list[str]]) -> None:
    with pytest.raises(CommandError, match="does not resolve"):
        await urls.check_url("https://nowhere.example.com/", "u", "prod")
    assert await urls.check_url("https://nowhere.example.com/", "u", "dev") == "https://nowhere.example.com/"


# -- delivery ---------------------------------------------------------------------------------------
@pytest.fixture
async def receiver() -> AsyncIterator[tuple[int, list[str]]]:
    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Host", ""))
        return web.json_response({"ok": True})

    async with receiving("/hook", hook) as port:
        yield port, hits


async def test_delivery_connects_to_the_checked_address_with_the_host_name(
        dns: dict[str, list[str]], receiver: tuple[int, list[str]]) -> None:
    """In test mode loopback is allowed: the name resolves (once) to 127.0.0.1 and the POST reaches
    the receiver there, with the URL's host name as Host header."""
    port, hits = receiver
    dns["hooks.example.com"] = ["127.0.0.1"]
    session = urls.new_session("test", timeout_s=5)
    try:
        out = await urls.post(session, f"https://hooks.example.com:{port}/hook", b"{}", {}, "test")
        # https to a plain-http receiver fails the TLS handshake, but only after connecting to the pinned
        # address (a refusal would say so); plain http is only for loopback names:
        assert not out.refused, out
        out = await urls.post(session, f"http://localhost:{port}/hook", b"{}", {}, "test")
        assert out.ok, out
        assert hits == [f"localhost:{port}"]
    finally:
        await session.close()
    assert dns["__calls__"] == ["hooks.example.com"]  # type: ignore[comparison-overlap]


async def test_rebinding_refused_at_delivery(dns: dict[str, list[str]], receiver: tuple[int, list[str]]) -> None:
    """Saved while the name pointed at a public address; by delivery it points inside: nothing sent."""
    port, hits = receiver
    dns["rebind.example.com"] = ["93.184.216.34"]
    url = f"https://rebind.example.com:{port}/hook"
    assert await urls.check_url(url, "inbound_url", "prod") == url
    dns["rebind.example.com"] = ["127.0.0.1"]
    session = urls.new_session("prod", timeout_s=5)
    try:
        out = await urls.post(session, url, b"{}", {}, "prod")
    finally:
        await session.close()
    assert out.refused and out.status is None and "127.0.0.1" in (out.error or "")
    assert hits == []


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data/", "https://[2002:a9fe:a9fe::]/",
                                 "https://100.100.100.200/", "http://2130706433/"])
async def test_delivery_refuses_literals_in_dev_too(url: str) -> None:
    session = urls.new_session("dev", timeout_s=2)
    try:
        out = await asyncio.wait_for(urls.post(session, url, b"{}", {}, "dev"), 5)
    finally:
        await session.close()
    assert out.refused and out.status is None


def test_embedded_ipv4() -> None:
    import ipaddress

    assert ipaddress.IPv4Address("169.254.169.254") in urls.embedded_ipv4(ipaddress.IPv6Address("2002:a9fe:a9fe::"))
    assert urls.address_refusal(ipaddress.ip_address("2002:a9fe:a9fe::"), dev=True)
    assert urls.address_refusal(ipaddress.ip_address("93.184.216.34"), dev=False) is None
