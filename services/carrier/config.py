"""Settings of the carrier service (AM_<FIELD>)."""

from __future__ import annotations

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
    octets, same concatenation reference) is a repeat of it and is dropped."""
    held_receipt_keep_s: float = 604800.0
    """A receipt whose submission we never recorded (unconfirmed, or not ours) is kept this long (7 days)
    in case its record comes, then forgotten."""
    carrier_http_timeout_s: float = 5.0
    """One call to an HTTP carrier API."""
