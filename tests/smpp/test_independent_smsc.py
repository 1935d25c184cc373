"""The carrier connector against an SMSC that shares no code with ours (the npm ``smpp`` package, see
tests/smpp/smsc.js): what goes out as submit_sm, long GSM-7 and UCS-2 texts in parts, receipts (also
before the submit_sm_resp), throttling, a full window, refused credentials, concatenated inbound texts,
and the SMSC killed and restarted under load."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from libs.embedded.ports import free_port
from libs.smpp import pdu
from libs.smpp.session import Session
from services.carrier import esme as esme_module
from services.carrier.config import SmppTarget, Timing
from services.carrier.esme import Esme
from tests.e2e.test_outbound import Org, handset, onboard
from tests.smpp.node import NodeSmsc
from tests.system import System, running_system


@pytest.fixture
async def smsc() -> AsyncIterator[NodeSmsc]:
    s = NodeSmsc(free_port())
    await s.start()
    yield s
    await s.stop()


async def with_system(settings_env: dict[str, str], smsc: NodeSmsc, env: dict[str, str] | None = None,
                      **query: Any) -> Any:
    return running_system(settings_env, {"AM_SMPP_URL": smsc.url(enquire_link_s=2, **query),
                                         "AM_SMPP_RECONNECT_BASE_S": "0.1", "AM_SMPP_RESPONSE_TIMEOUT_S": "3",
                                         **(env or {})})


def digits(e164: str) -> str:
    return e164.lstrip("+")


async def inbound(system: System, org: Org, n: int) -> list[dict[str, Any]]:
    async def listed() -> Any:
        _, body, _ = await org.call("GET", "/v1/inbound-messages", params={"limit": 10})
        return body["data"] if len(body["data"]) >= n else None

    return list(await system.eventually(listed, timeout=15))


async def test_messages_go_out_as_submit_sm_and_receipts_settle_them(settings_env: dict[str, str],
                                                                   smsc: NodeSmsc) -> None:
    async with await with_system(settings_env, smsc) as system:
        org = await onboard(system)
        ok, bad, long_gsm, long_ucs2, early = (handset() for _ in range(5))
        for c in (ok, bad, long_gsm, long_ucs2, early):
            await org.consent(c)
        await smsc.send(cmd="set", stat={digits(bad): "UNDELIV"})

        # the quickstart's send arrives as a correct submit_sm, and its receipt makes it delivered
        _, a = await org.send(ok)
        [sm] = await smsc.wait(lambda e: e["ev"] == "submit_sm" and e["destination_addr"] == digits(ok))
        assert (sm["source_addr"], sm["source_addr_ton"], sm["dest_addr_ton"]) == (digits(org.number), 1, 1)
        assert (sm["data_coding"], sm["esm_class"], sm["registered_delivery"]) == (0, 0, 1)
        assert sm["message"] == "hello from agentmessage" and sm["udh"] == []
        # a stat:UNDELIV receipt makes one undelivered, its err: kept
        _, b = await org.send(bad)
        # a long GSM-7 text with characters of the extension table, and a 200-character UCS-2 one
        gsm = "Order [A-1] costs 5€ {ok} ~ " * 8
        ucs2 = ("Привет, это длинное сообщение! " * 7)[:200]
        _, c = await org.send(long_gsm, text=gsm)
        _, d = await org.send(long_ucs2, text=ucs2)
        # a receipt that comes before the submit_sm_resp still matches
        await smsc.wait(lambda e: e["ev"] == "submit_sm_resp", count=1)
        final = await org.until_terminal([a["data"]["id"], b["data"]["id"], c["data"]["id"], d["data"]["id"]])
        await smsc.send(cmd="set", receipt_first=True)
        await smsc.wait(lambda e: e["ev"] == "set", count=2)
        _, e = await org.send(early)
        final.update(await org.until_terminal([e["data"]["id"]]))

        assert final[a["data"]["id"]]["status"] == "delivered"
        assert (final[b["data"]["id"]]["status"], final[b["data"]["id"]]["error_code"]) == ("undelivered", "034")
        assert final[e["data"]["id"]]["status"] == "delivered"
        for msg, to, text, dc in ((c, long_gsm, gsm, 0), (d, long_ucs2, ucs2, 8)):
            m = final[msg["data"]["id"]]
            parts = [x for x in smsc.of("submit_sm") if x["destination_addr"] == digits(to)]
            assert m["status"] == "delivered" and len(parts) == m["segments"] == msg["data"]["segments"] > 1
            udhs = [bytes.fromhex(x["udh"][0]) for x in parts]
            assert all(u[:2] == b"\x00\x03" for u in udhs), udhs  # IEI 0 (8-bit reference), length 3
            refs = {u[2] for u in udhs}
            assert len(refs) == 1, udhs  # one reference for every part
            assert [(u[3], u[4]) for u in udhs] == [(len(parts), i) for i in range(1, len(parts) + 1)]
            assert all(x["esm_class"] & 0x40 and x["data_coding"] == dc for x in parts)
            assert "".join(x["message"] for x in parts) == text  # decoded by the other implementation


async def test_throttling_and_a_full_queue_are_backed_off_and_sent_once(settings_env: dict[str, str],
                                                                        smsc: NodeSmsc) -> None:
    async with await with_system(settings_env, smsc) as system:
        org = await onboard(system)
        to = await org.new_contact()
        await smsc.send(cmd="set", throttle=2, queue_full=1)
        await smsc.wait(lambda e: e["ev"] == "set")
        _, a = await org.send(to, text="patience")
        final = await org.until_terminal([a["data"]["id"]])
        assert final[a["data"]["id"]]["status"] == "delivered"
        tries = [x for x in smsc.of("submit_sm") if x["destination_addr"] == digits(to)]
        assert len(tries) == 4 and len(smsc.of("throttled")) == 2 and len(smsc.of("queue_full")) == 1
        assert len(smsc.of("submit_sm_resp")) == 1  # taken once
        assert len(await org.inbox(to)) == 0  # (the simulator's handsets are not this SMSC's)


async def test_transmitter_and_receiver_binds_and_sar_parts(settings_env: dict[str, str], smsc: NodeSmsc) -> None:
    async with await with_system(settings_env, smsc, bind="txrx", binds=2, concat="sar", tps=50) as system:
        org = await onboard(system)
        to = await org.new_contact()
        text = "A long text in parts marked by SAR TLVs instead of a UDH. " * 4
        _, a = await org.send(to, text=text)
        final = await org.until_terminal([a["data"]["id"]])
        assert final[a["data"]["id"]]["status"] == "delivered"
        assert sorted(e["kind"] for e in smsc.of("bound")) == ["bind_receiver"] * 2 + ["bind_transmitter"] * 2
        parts = [x for x in smsc.of("submit_sm") if x["destination_addr"] == digits(to)]
        assert len(parts) == a["data"]["segments"] == 2
        assert [x["sar"][1:] for x in parts] == [[2, 1], [2, 2]] and parts[0]["sar"][0] == parts[1]["sar"][0]
        assert all(x["udh"] == [] and not x["esm_class"] & 0x40 for x in parts)
        assert "".join(x["message"] for x in parts) == text


async def test_a_full_window_holds_further_submissions_back(smsc: NodeSmsc) -> None:
    await smsc.send(cmd="set", hold=True, receipts=False)
    target = SmppTarget.parse(smsc.url(window=2))

    async def deliver(_: pdu.Pdu, __: Session) -> int:
        return pdu.ESME_ROK

    esme = Esme(target, Timing(response_timeout_s=20), deliver)
    esme.start()
    try:
        await smsc.wait(lambda e: e["ev"] == "bound")
        loop = asyncio.get_running_loop()

        async def nothing() -> None:
            return None

        def sm(i: int) -> pdu.Pdu:
            return pdu.Pdu(pdu.SUBMIT_SM, params={"source_addr": "14155550100", "destination_addr": f"1555000000{i}",
                                                  "source_addr_ton": 1, "dest_addr_ton": 1,
                                                  "short_message": f"w{i}".encode()})

        tasks = [asyncio.create_task(esme.submit(sm(i), loop.time() + 30, nothing)) for i in range(5)]
        await smsc.wait(lambda e: e["ev"] == "submit_sm", count=2)
        assert esme.binds[0].in_window == 2 and not any(t.done() for t in tasks)
        await smsc.send(cmd="set", hold=False)
        await smsc.send(cmd="release")
        answers = await asyncio.gather(*tasks)
        assert all(a.status == pdu.ESME_ROK and a.text("message_id") for a in answers)
        assert max(e["held"] for e in smsc.of("submit_sm")) <= 1  # never a third outstanding at the SMSC
        assert len(smsc.of("submit_sm")) == 5
    finally:
        await esme.stop()
    assert smsc.of("unbind"), "unbind on stop"


class _Logs:
    """Records what a module logs (structlog's loggers are cached once a service configured logging)."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **kw: Any) -> None:
            self.lines.append({"event": event, "log_level": level, **kw})

        return record


async def test_refused_credentials_are_one_error_and_not_ready(settings_env: dict[str, str], smsc: NodeSmsc,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    async def deliver(_: pdu.Pdu, __: Session) -> int:
        return pdu.ESME_ROK

    recorder = _Logs()
    monkeypatch.setattr(esme_module, "log", recorder)
    logs = recorder.lines
    esme = Esme(SmppTarget.parse(smsc.url(password="wrong")), Timing(refused_retry_s=0.2), deliver)
    esme.start()
    try:
        await smsc.wait(lambda e: e["ev"] == "bind_refused", count=4)
        for _ in range(500):  # between two attempts it says so
            if esme.binds[0].state == "refused":
                break
            await asyncio.sleep(0.01)
        assert esme.views()[0].state == "refused" and "ESME_RINVPASWD" in esme.views()[0].error
        assert not esme.ready
    finally:
        await esme.stop()
    errors = [x for x in logs if x["log_level"] == "error"]
    assert [x["event"] for x in errors] == ["smpp_bind_refused"], errors
    assert "wrong" not in repr(logs)  # the password is never logged
    # and the carrier service runs, unready, rather than crash-looping
    extra = {"AM_SMPP_URL": smsc.url(password="wrong"), "AM_SMPP_REFUSED_RETRY_S": "0.2"}
    async with running_system(settings_env, extra, only=["carrier"]) as system:
        assert system.http is not None
        port = system.services["carrier"].port
        async with system.http.get(f"http://127.0.0.1:{port}/readyz") as r:
            body = await r.json()
            assert r.status == 503 and body["checks"]["upstream"] is False


async def test_concatenated_and_latin1_inbound_texts(settings_env: dict[str, str], smsc: NodeSmsc) -> None:
    async with await with_system(settings_env, smsc, {"AM_MO_CONCAT_TIMEOUT_S": "3"}) as system:
        org = await onboard(system)
        me = digits(org.number)
        parts = ["Hello, this is a long message ", "that came in three parts, ", "out of order."]
        udh = [bytes((5, 0, 3, 0x7A, 3, i + 1)) for i in range(3)]
        pdus = [{"source_addr": "15551230001", "destination_addr": me, "esm_class": 0x40, "data_coding": 0,
                 "hex": (udh[i] + parts[i].encode("ascii")).hex()} for i in (2, 0, 1)]
        pdus.append(dict(pdus[1]))  # a repeated PDU
        await smsc.wait(lambda e: e["ev"] == "bound")
        await smsc.send(cmd="deliver", pdus=pdus)
        await smsc.send(cmd="deliver", pdus=[{"source_addr": "15551230002", "destination_addr": me,
                                             "data_coding": 3, "hex": "café crème".encode("latin-1").hex()},
                                            {"source_addr": "15551230003", "destination_addr": me,
                                             "data_coding": 8, "hex": "日本語 👋".encode("utf-16-be").hex()}])
        # and a text whose second part never comes: given up after the timeout, passed on with a gap
        lost = [bytes((5, 0, 3, 0x11, 3, i)) + t.encode() for i, t in ((1, "first "), (3, " third"))]
        await smsc.send(cmd="deliver", pdus=[{"source_addr": "15551230004", "destination_addr": me,
                                             "esm_class": 0x40, "hex": b.hex()} for b in lost])
        got = await inbound(system, org, 4)
        bodies = {m["from"]: m["body"] for m in got}
        assert bodies == {"+15551230001": "".join(parts), "+15551230002": "café crème", "+15551230003": "日本語 👋",
                          "+15551230004": "first […] third"}
        await smsc.wait(lambda e: e["ev"] == "deliver_resp", count=8)
        assert {e["status"] for e in smsc.of("deliver_resp")} == {0}


async def test_smsc_restarted_under_load_every_message_ends_once(settings_env: dict[str, str],
                                                                smsc: NodeSmsc) -> None:
    async with await with_system(settings_env, smsc) as system:
        org = await onboard(system)
        contacts = [await org.new_contact() for _ in range(4)]
        await smsc.send(cmd="set", hold=True)
        await smsc.wait(lambda e: e["ev"] == "set")
        ids = []
        for i in range(24):
            status, body = await org.send(contacts[i % 4], text=f"load {i}")
            assert status == 202
            ids.append(body["data"]["id"])
        await smsc.wait(lambda e: e["ev"] == "submit_sm", count=3)
        # when the SMSC dies with submissions unanswered and comes back
        await smsc.stop()
        await smsc.start()
        final = await org.until_terminal(ids, timeout=60)
        # then every message ends once: delivered, or failed as unconfirmed (it left and was not
        # acknowledged: never sent a second time)
        statuses = {m["status"] for m in final.values()}
        assert statuses <= {"delivered", "failed"}, final
        unconfirmed = [m for m in final.values() if m["status"] == "failed"]
        assert unconfirmed and all(m["error_code"] == "SUBMISSION_UNCONFIRMED" for m in unconfirmed)
        seen: dict[str, int] = {}
        for e in smsc.of("submit_sm"):
            seen[e["message"]] = seen.get(e["message"], 0) + 1
        assert all(n == 1 for n in seen.values()), seen  # nothing submitted twice
        for m in final.values():
            assert (m["text"] in seen) if m["status"] == "delivered" else True


async def test_stopping_lets_outstanding_submissions_finish_then_unbinds(smsc: NodeSmsc) -> None:
    await smsc.send(cmd="set", hold=True, receipts=False)

    async def deliver(_: pdu.Pdu, __: Session) -> int:
        return pdu.ESME_ROK

    esme = Esme(SmppTarget.parse(smsc.url()), Timing(response_timeout_s=20), deliver)
    esme.start()
    await smsc.wait(lambda e: e["ev"] == "bound")

    async def nothing() -> None:
        return None

    loop = asyncio.get_running_loop()
    sm = pdu.Pdu(pdu.SUBMIT_SM, params={"source_addr": "14155550100", "destination_addr": "15550000001",
                                         "short_message": b"last one"})
    submitting = asyncio.create_task(esme.submit(sm, loop.time() + 30, nothing))
    await smsc.wait(lambda e: e["ev"] == "submit_sm")
    # when SIGTERM's stop begins while the submit_sm awaits its answer
    stopping = asyncio.create_task(esme.stop())
    await asyncio.wait({stopping}, timeout=0.2)  # (it cannot end before the release below)
    assert not stopping.done() and not esme.binds[0].can_submit  # no new submit_sm, waiting for the answer
    await smsc.send(cmd="release")
    # then the answer is taken before the unbind
    answer = await submitting
    await stopping
    assert answer.status == pdu.ESME_ROK and answer.text("message_id")
    kinds = [e["ev"] for e in smsc.events if e["ev"] in ("submit_sm_resp", "unbind")]
    assert kinds == ["submit_sm_resp", "unbind"]


async def test_tps_cap_per_bind(smsc: NodeSmsc) -> None:
    await smsc.send(cmd="set", receipts=False)

    async def deliver(_: pdu.Pdu, __: Session) -> int:
        return pdu.ESME_ROK

    esme = Esme(SmppTarget.parse(smsc.url(tps=10)), Timing(), deliver)
    esme.start()
    try:
        await smsc.wait(lambda e: e["ev"] == "bound")

        async def nothing() -> None:
            return None

        loop = asyncio.get_running_loop()
        started = loop.time()
        answers = await asyncio.gather(*(esme.submit(pdu.Pdu(pdu.SUBMIT_SM, params={
            "source_addr": "14155550100", "destination_addr": f"1555000000{i}", "short_message": b"t"}),
            started + 30, nothing) for i in range(6)))
        # 6 at 10 a second: the last one leaves at least 0.5 s after the first
        assert loop.time() - started >= 0.5 and all(a.status == pdu.ESME_ROK for a in answers)
    finally:
        await esme.stop()


async def test_smpps_binds_over_tls_with_a_verified_certificate(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    smsc = NodeSmsc(free_port(), tls=(str(key), str(cert)))
    await smsc.start()

    async def deliver(_: pdu.Pdu, __: Session) -> int:
        return pdu.ESME_ROK

    async def nothing() -> None:
        return None

    try:
        await smsc.send(cmd="set", receipts=False)
        # a certificate nobody vouches for: no bind (and no crash), said in the bind's error
        untrusted = Esme(SmppTarget.parse(smsc.url()), Timing(reconnect_base_s=0.05, response_timeout_s=5), deliver)
        untrusted.start()
        for _ in range(500):
            if "CERTIFICATE_VERIFY_FAILED" in untrusted.views()[0].error:
                break
            await asyncio.sleep(0.01)
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.views()[0].error and not untrusted.ready
        await untrusted.stop()
        # trusted (ca=): bound, and a submit_sm goes through
        esme = Esme(SmppTarget.parse(smsc.url(ca=str(cert))), Timing(), deliver)
        esme.start()
        try:
            await smsc.wait(lambda e: e["ev"] == "bound")
            loop = asyncio.get_running_loop()
            answer = await esme.submit(pdu.Pdu(pdu.SUBMIT_SM, params={
                "source_addr": "14155550100", "destination_addr": "15550000009", "short_message": b"over tls"}),
                loop.time() + 10, nothing)
            assert answer.status == pdu.ESME_ROK
            [sm] = smsc.of("submit_sm")
            assert sm["message"] == "over tls"
        finally:
            await esme.stop()
    finally:
        await smsc.stop()
