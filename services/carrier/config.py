"""Settings of the carrier service (AM_<FIELD>), and what AM_SMPP_URL says (``SmppTarget``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from libs.carrier.config import CarrierSettings


class CarrierServiceSettings(CarrierSettings, frozen=True, kw_only=True):
    smpp_url: str = ""
    """``smpp://<system_id>:<password>@<host>:<port>`` (``smpps://`` for TLS) with query options
    ``system_type``, ``bind=trx|txrx``, ``window``, ``tps``, ``source_ton``, ``source_npi``, ``binds``,
    ``enquire_link_s``; empty = the HTTP carrier API at AM_SIM_URL. Never logged (it holds a password)."""
    carrier_submit_wait_s: float = 4.0
    """How long a submission may wait for a bound connection, a window slot, TPS tokens or the end of a
    throttling back-off before it is answered CARRIER_UNAVAILABLE (nothing sent; outbound retries). Keep it
    under outbound's AM_CARRIER_TIMEOUT_S."""
    smpp_response_timeout_s: float = 10.0
    """How long a submit_sm (or bind, enquire_link) waits for its response before the connection is
    considered lost."""
    smpp_reconnect_base_s: float = 0.5
    """First delay before reconnecting a lost bind; doubles per failure (with jitter) up to the cap."""
    smpp_reconnect_cap_s: float = 30.0
    """Longest delay between reconnection attempts."""
    smpp_refused_retry_s: float = 60.0
    """After the SMSC refused our credentials, try binding again this often (logged once as an error)."""
    smpp_throttle_backoff_s: float = 0.5
    """First pause of a bind after ESME_RTHROTTLED / ESME_RMSGQFUL; doubles while it repeats (cap 10 s)."""
    mo_concat_timeout_s: float = 120.0
    """Parts of a concatenated inbound text still incomplete after this are given up on: what came is
    passed on (marked incomplete)."""
    mo_dedupe_s: float = 120.0
    """An inbound deliver_sm identical to one received this recently (same source, destination, coding and
    octets, same concatenation reference) is a repeat of it and is dropped — unless the earlier one was a
    whole text that came on a session still open and was answered within ``mo_answered_in_time_s`` (or is
    still being answered, and came less than that ago): the SMSC then has our answer, or still waits for
    it, and sends no copy, so the same words again are the contact's new text."""
    mo_answered_in_time_s: float = 2.0
    """An inbound text answered (deliver_sm_resp) within this long surely reached the SMSC before its
    response timeout (seconds to minutes): it will not send that PDU again."""
    held_receipt_keep_s: float = 604800.0
    """A receipt whose submission we never recorded (unconfirmed, or not ours) is kept this long (7 days)
    in case its record comes, then forgotten."""
    carrier_http_timeout_s: float = 5.0
    """One call to an HTTP carrier API. A submission's attempt marker stands twice this since its attempt
    last refreshed it: until then another attempt at the message sends nothing (it answers "under way"),
    after it takes the marker over."""


@dataclass(frozen=True)
class SmppTarget:
    host: str
    port: int
    system_id: str
    password: str
    tls: bool = False
    system_type: str = ""
    bind: str = "trx"
    """trx (one transceiver per bind) | txrx (a transmitter and a receiver per bind)"""
    window: int = 10
    tps: float = 0.0
    """submit_sm per second per bind; 0 = no cap"""
    source_ton: int = 1
    source_npi: int = 1
    binds: int = 1
    enquire_link_s: float = 30.0
    ca: str = ""
    """smpps: a CA (or the SMSC's own certificate) file to trust besides the system's store"""
    concat: str = "udh"
    """How long messages are marked as parts: udh (05 00 03 ref total seq, esm_class 0x40) | sar (TLVs)"""

    @property
    def upstream(self) -> str:
        return f"{'smpps' if self.tls else 'smpp'}://{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> SmppTarget:
        """Parse AM_SMPP_URL; a ValueError names what is wrong (never the password)."""
        u = urlsplit(url)
        if u.scheme not in ("smpp", "smpps"):
            raise ValueError("AM_SMPP_URL must start with smpp:// or smpps://")
        if not u.hostname or not u.username:
            raise ValueError("AM_SMPP_URL must be smpp://<system_id>:<password>@<host>:<port>")
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        known = {"system_type", "bind", "window", "tps", "source_ton", "source_npi", "binds", "enquire_link_s",
                 "concat", "ca"}
        unknown = set(q) - known
        if unknown:
            raise ValueError(f"AM_SMPP_URL has unknown options: {', '.join(sorted(unknown))}")
        try:
            t = cls(host=u.hostname, port=u.port or (3550 if u.scheme == "smpps" else 2775),
                    system_id=unquote(u.username), password=unquote(u.password or ""), tls=u.scheme == "smpps",
                    system_type=q.get("system_type", ""), bind=q.get("bind", "trx"),
                    window=int(q.get("window", "10")), tps=float(q.get("tps", "0")),
                    source_ton=int(q.get("source_ton", "1")), source_npi=int(q.get("source_npi", "1")),
                    binds=int(q.get("binds", "1")), enquire_link_s=float(q.get("enquire_link_s", "30")),
                    concat=q.get("concat", "udh"), ca=q.get("ca", ""))
        except ValueError as exc:
            raise ValueError(f"AM_SMPP_URL has a malformed option: {exc}") from None
        if t.bind not in ("trx", "txrx"):
            raise ValueError("AM_SMPP_URL option bind must be trx or txrx")
        if t.concat not in ("udh", "sar"):
            raise ValueError("AM_SMPP_URL option concat must be udh or sar")
        if not 1 <= t.window <= 1000 or not 1 <= t.binds <= 32 or t.tps < 0 or t.enquire_link_s <= 0:
            raise ValueError("AM_SMPP_URL options out of range (window 1-1000, binds 1-32, tps >= 0)")
        if len(t.system_id) > 15 or len(t.password) > 8:
            raise ValueError("AM_SMPP_URL system_id is at most 15 characters and the password at most 8 (SMPP 3.4)")
        return t


@dataclass(frozen=True)
class Timing:
    response_timeout_s: float = 10.0
    reconnect_base_s: float = 0.5
    reconnect_cap_s: float = 30.0
    refused_retry_s: float = 60.0
    throttle_backoff_s: float = 0.5
