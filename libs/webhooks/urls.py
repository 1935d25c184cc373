"""The one URL rule for every callback we POST to a customer (a number's ``inbound_url`` and
``status_callback_url``, a campaign's and a message's ``status_callback_url``), checked when the URL is
saved and again at every delivery.

The rule:

- ``https://`` only, an absolute URL with a host, no ``user:password@``, at most 2048 characters, no
  whitespace or control characters.
- The host is a canonical IP literal (dotted-quad IPv4, or ``[IPv6]`` without a zone) or an ASCII DNS
  name (punycode for international names). Numeric forms that some resolvers read as addresses —
  ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1`` — are refused outright.
- Every address the host resolves to is globally routable (``ipaddress.is_global``) and not
  multicast, reserved, private, loopback, link-local, site-local, CGNAT (100.64/10, which holds the
  100.100.100.200 metadata address) or unspecified; an IPv6 address carrying an IPv4 one (IPv4-mapped
  and -compatible, 6to4 ``2002::/16``, Teredo, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``, ISATAP) is
  judged by that IPv4 address too. One refused address refuses the URL.
- In dev and test (``AM_ENV``) a local receiver is allowed: loopback (127/8, ``::1``, ``localhost``),
  over http or https. Nothing else is relaxed: private, CGNAT and metadata addresses are refused in
  every environment.

At delivery the host is resolved once, every address is checked, and the connection goes to exactly
those addresses (the URL's host name stays the ``Host`` header and TLS SNI): the custom resolver of
:func:`new_session` does the check inside aiohttp's connector, so there is no second lookup a
rebinding DNS server could answer differently. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from libs.cache import TtlCache
from proto.base import CommandError

RELAXED_ENVS = frozenset({"dev", "test"})
MAX_URL_LENGTH = 2048

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[list[str]]]


class UrlRefused(OSError):
    """The URL breaks the rule: retrying cannot help. (An OSError, so aiohttp's connector passes it
    through as the ``os_error`` of a ``ClientConnectorError``.)"""


class Unresolvable(OSError):
    """The host does not resolve (now): a delivery may be retried later."""


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver: Resolve = system_resolve


def set_resolver(resolve: Resolve | None) -> None:
    """Replace name resolution for every check and delivery of this process (tests: a resolver that
    answers private addresses, or changes its answer between save and delivery). None restores DNS."""
    global _resolver
    _resolver = resolve or system_resolve


def is_relaxed(env: str) -> bool:
    return env in RELAXED_ENVS


# -- form ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    """Lower case, no trailing dot, no brackets."""
    port: int
    ip: IP | None
    """The host when it is an IP literal."""

    @property
    def loopback_name(self) -> bool:
        return self.ip is None and (self.host == "localhost" or self.host.endswith(".localhost"))


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def parse_url(url: str, dev: bool) -> Target:
    """Check the form of ``url`` (and an IP literal's address); raise :class:`UrlRefused` saying why."""
    url = url.strip()
    if not url:
        raise UrlRefused("must be an absolute https:// URL")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"must be at most {MAX_URL_LENGTH} characters")
    if _CONTROL.search(url):
        raise UrlRefused("must not contain whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        raw_host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("must be an absolute https:// URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not raw_host:
        raise UrlRefused("must be an absolute https:// URL")
    if "@" in parts.netloc:
        raise UrlRefused("must not carry credentials (user:password@)")
    if port == 0:
        raise UrlRefused("port must be between 1 and 65535")
    port = port or (443 if scheme == "https" else 80)
    if not raw_host.isascii():
        raise UrlRefused("host must be ASCII (write an international name in its xn-- form)")
    host = raw_host.lower()
    ip: IP | None = None
    if "[" in parts.netloc.split("@")[-1]:
        if "%" in host:
            raise UrlRefused("must not name an IPv6 zone")
        try:
            ip = ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UrlRefused("host is not a valid IPv6 address") from exc
    else:
        host = host.rstrip(".")
        try:
            ip = ipaddress.IPv4Address(host)
        except ValueError:
            labels = host.split(".")
            if (not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels)):
                raise UrlRefused("host is not a valid DNS name or IP address") from None
            if _NUMERIC_LABEL.match(labels[-1]) or all(_NUMERIC_LABEL.match(label) for label in labels):
                raise UrlRefused("host must be a DNS name or a canonical IP address (no numeric shorthand)") from None
    target = Target(url=url, scheme=scheme, host=host, port=port, ip=ip)
    local = target.loopback_name or (ip is not None and _unmapped(ip).is_loopback)
    if scheme == "http" and not (dev and local):
        raise UrlRefused("must use https (plain http is only accepted for a loopback receiver in dev)")
    if target.loopback_name and not dev:
        raise UrlRefused("must not point at this host")
    if ip is not None:
        reason = address_refusal(ip, dev)
        if reason:
            raise UrlRefused(reason)
    return target


# -- addresses -------------------------------------------------------------------------------------
_V4_DENIED = [ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)]
_V6_DENIED = [ipaddress.IPv6Network(n) for n in (
    "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20",
    "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
)]
_NAT64 = [ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48")]
_TEREDO = ipaddress.IPv6Network("2001::/32")


def _unmapped(ip: IP) -> IP:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (and a router may forward to)."""
    out: list[ipaddress.IPv4Address] = []
    n = int(ip)
    low32 = ipaddress.IPv4Address(n & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if n >> 32 == 0 and n > 1:  # IPv4-compatible ::a.b.c.d (deprecated)
        out.append(low32)
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip in _TEREDO:
        server, client = ip.teredo or (low32, low32)
        out += [server, client]
    if any(ip in net for net in _NAT64):
        out.append(low32)
    if (n >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface id ::[02]00:5efe:a.b.c.d
        out.append(low32)
    return out


def address_refusal(ip: IP, dev: bool) -> str | None:
    """Why a callback must not connect to ``ip`` (None: it may). In dev/test loopback is allowed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return f"must not resolve to a scoped address ({ip})"
    plain = _unmapped(ip)
    if plain.is_loopback:
        return None if dev else f"must not resolve to a loopback address ({ip})"
    if isinstance(plain, ipaddress.IPv6Address):
        for v4 in embedded_ipv4(plain):
            if _v4_refused(v4):
                return f"must not resolve to an address embedding a non-public IPv4 address ({ip} carries {v4})"
        if (not plain.is_global or plain.is_multicast or plain.is_reserved or plain.is_site_local
                or plain.is_unspecified or any(plain in net for net in _V6_DENIED)):
            return f"must not resolve to a private, loopback, link-local or otherwise non-public address ({ip})"
        return None
    if _v4_refused(plain):
        return f"must not resolve to a private, loopback, link-local, CGNAT or metadata address ({ip})"
    return None


def _v4_refused(ip: ipaddress.IPv4Address) -> bool:
    return (not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified
            or any(ip in net for net in _V4_DENIED))


def _parse_ip(text: str) -> IP:
    return ipaddress.ip_address(text)


async def resolve_checked(host: str, port: int, dev: bool, timeout_s: float = 2.0) -> list[str]:
    """Resolve ``host`` once and check every address: the addresses to connect to, or
    :class:`UrlRefused` (one address is refused) / :class:`Unresolvable`."""
    try:
        literal: IP | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    name = host.rstrip(".").lower()
    if literal is not None:
        addresses = [str(literal)]
    elif name == "localhost" or name.endswith(".localhost"):
        if not dev:
            raise UrlRefused("must not point at this host")
        addresses = ["127.0.0.1", "::1"]  # RFC 6761: never asked of DNS
    else:
        try:
            addresses = await asyncio.wait_for(_resolver(host, port), timeout_s)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise Unresolvable(f"cannot resolve {host}") from exc
        if not addresses:
            raise Unresolvable(f"cannot resolve {host}")
    for a in addresses:
        try:
            ip = _parse_ip(a)
        except ValueError as exc:
            raise UrlRefused(f"{host} resolves to something that is not an address") from exc
        reason = address_refusal(ip, dev)
        if reason:
            raise UrlRefused(f"{host}: {reason}" if literal is None else reason)
    return addresses


# -- when saved ------------------------------------------------------------------------------------
_checked: TtlCache[tuple[str, bool], bool] = TtlCache(30.0, max_entries=10_000)
"""Host names that passed at save, by (host, relaxed)."""


def invalid(field: str, message: str) -> CommandError:
    return CommandError("VALIDATION_ERROR", f"{field}: {message}", 400, {"field": field})


async def check_url(url: str, field: str, env: str, timeout_s: float = 2.0) -> str:
    """The URL as it will be stored (stripped), or a 400 ``VALIDATION_ERROR`` naming ``field``.

    In dev and test a host name that does not resolve is accepted (sandboxes without DNS); delivery
    checks again anyway. A host name that passed is remembered for 30 s, so a burst of sends with the
    same callback does not resolve it each time (delivery never uses that memory)."""
    dev = is_relaxed(env)
    try:
        target = parse_url(url, dev)
    except UrlRefused as exc:
        raise invalid(field, str(exc)) from None
    if target.ip is not None:
        return target.url
    key = (target.host, dev)
    if _checked.get(key):
        return target.url
    try:
        await resolve_checked(target.host, target.port, dev, timeout_s)
    except UrlRefused as exc:
        raise invalid(field, str(exc)) from None
    except Unresolvable:
        if not dev:
            raise invalid(field, "host does not resolve") from None
    _checked.put(key, True)
    return target.url


def forget_checks() -> None:
    """Drop remembered host checks (tests that change what a name resolves to)."""
    _checked.clear()


# -- at delivery -----------------------------------------------------------------------------------
class PinnedResolver(AbstractResolver):
    """aiohttp resolver that applies the rule: the addresses it returns are the ones it checked, and
    the connector connects to them — one lookup per connection, no window for DNS rebinding."""

    def __init__(self, dev: bool, timeout_s: float = 2.0):
        self.dev = dev
        self.timeout_s = timeout_s

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        addresses = await resolve_checked(host, port, self.dev, self.timeout_s)
        out: list[ResolveResult] = []
        for a in addresses:
            fam = socket.AF_INET6 if ":" in a else socket.AF_INET
            out.append(ResolveResult(hostname=host, host=a, port=port, family=fam, proto=0,
                                     flags=socket.AI_NUMERICHOST))
        return out

    async def close(self) -> None:
        return None


def new_session(env: str, timeout_s: float, limit: int = 100, headers: Mapping[str, str] | None = None,
                dns_timeout_s: float = 2.0) -> aiohttp.ClientSession:
    """A client session whose every connection obeys the rule (use it with :func:`post`)."""
    connector = aiohttp.TCPConnector(resolver=PinnedResolver(is_relaxed(env), dns_timeout_s),
                                     use_dns_cache=False, limit=limit, limit_per_host=0)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s),
                                 headers=headers, trust_env=False)


@dataclass(frozen=True)
class Outcome:
    status: int | None
    """The receiver's HTTP status; None when it was not reached."""
    error: str | None = None
    refused: bool = False
    """The URL breaks the rule (at this delivery): nothing was sent; retrying cannot help."""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def post(session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str], env: str,
               timeout_s: float | None = None) -> Outcome:
    """POST ``body`` to ``url`` if the rule allows it, through a session of :func:`new_session`. Never
    follows a redirect; reads at most 64 KiB of the answer."""
    try:
        parse_url(url, is_relaxed(env))
    except UrlRefused as exc:
        return Outcome(None, f"refused by the callback URL rule: {exc}", refused=True)
    kw: dict[str, Any] = {}
    if timeout_s is not None:
        kw["timeout"] = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with session.post(url, data=body, headers=dict(headers), allow_redirects=False, **kw) as resp:
            await resp.content.read(64 * 1024)
            return Outcome(resp.status)
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, UrlRefused):
            return Outcome(None, f"refused by the callback URL rule: {exc.os_error}", refused=True)
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout_s or session.timeout.total:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
