"""SMPP 3.4: the PDU codec, GSM-7/UCS-2/Latin-1 text and concatenation, delivery-receipt text, and one
asyncio session (framing, sequence numbers, request/response matching) shared by our ESME client
(services/carrier) and the simulator's SMSC (services/carrier_sim).

Written here rather than taken from PyPI: ``aiosmpplib`` is an ESME framework with its own broker,
correlator and retry loop (it decides when a submit_sm is sent and resent), where the carrier service
must itself record "about to write" before a submit_sm leaves so that it is never sent twice;
``smpplib`` is synchronous (a thread per bind); ``smpp-pdu3`` is a twisted-era codec. The wire format is
small and fixed (a 16-octet header, C-octet strings, integers, TLVs), built on ``struct``, and tested
against an SMSC that shares no code with it (the npm ``smpp`` package, tests/smpp)."""
