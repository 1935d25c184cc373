"""The dashboard in a real browser against the whole system: a new user signs up, creates a key (seen
once), orders a number, watches a text arrive without reloading, registers a brand and campaign and sees
it approved, runs a double opt-in, sends (after the dry run's verdict), cancels a scheduled message, and
logs out. axe-core runs on every page; screenshots of each are kept."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from libs.testing.receiver import receiving
from services.gateway.sessions import csrf_token
from tests.browser.conftest import Audit
from tests.system import System

PHONE = "+15551234567"  # a simulated handset
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver on loopback (allowed as inbound_url when AM_ENV=test)."""
    got: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=204)

    async with receiving("/hook", hook) as port:
        yield f"http://127.0.0.1:{port}/hook", got


async def _sign_up(page: Any, system: System, email: str) -> None:
    await page.goto(system.gateway + "/signup")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Organization name").fill("Browser Test Inc")
    await page.get_by_role("button", name="Sign up").click()
    await page.wait_for_url(re.compile(r"/\?welcome=1$"))


async def test_a_new_user_goes_from_signup_to_a_delivered_text(
        system: System, page: Any, audit: Audit, receiver: tuple[str, list[dict[str, Any]]]) -> None:
    gw = system.gateway
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"

    # the public pages
    await page.goto(gw + "/login")
    await audit.check(page, "login")
    await page.goto(gw + "/signup")
    await audit.check(page, "signup")

    # sign up: straight into the dashboard, with the $5 credit
    await _sign_up(page, system, email)
    await expect(page.locator("#balance")).to_have_text("$5.00")
    await audit.check(page, "overview-new")

    # Settings → API keys → Create API key: the secret is shown once and works against /v1
    await page.get_by_role("link", name="Settings").click()
    await expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    await audit.check(page, "settings")
    await page.get_by_role("link", name="API keys").click()
    await page.get_by_role("textbox", name="Name").fill("browser key")
    await page.get_by_role("button", name="Create API key").click()
    secret = (await page.locator("#new-secret").inner_text()).strip()
    assert re.fullmatch(r"am_live_[A-Za-z0-9]{40}", secret), secret
    await expect(page.get_by_role("button", name="Copy")).to_be_visible()
    await audit.check(page, "api-keys-created")
    status, body, _ = await system.call("GET", "/v1/balance", key=secret)
    assert status == 200 and body["data"]["balance"] == "5.0000", body
    await page.reload()
    await expect(page.get_by_role("cell", name="browser key", exact=True)).to_be_visible()
    assert secret not in await page.content()  # never shown again
    assert secret[:12] in await page.content()  # its prefix is listed

    # the keyboard alone: create a key with Enter, revoke it through the confirmation dialog
    await page.get_by_role("textbox", name="Name").focus()
    await page.keyboard.type("temporary")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("cell", name="temporary", exact=True)).to_be_visible()
    await page.get_by_role("button", name=re.compile("^Revoke temporary")).focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Revoke this key?")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(dialog.get_by_role("button", name="Revoke")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("cell", name="temporary", exact=True)).to_have_count(0)
    await expect(page.get_by_role("cell", name="browser key", exact=True)).to_be_visible()

    # Phone numbers: search, order, configure the webhook
    await page.get_by_role("link", name="Phone numbers").click()
    await page.get_by_label("Area code").fill("415")
    await page.get_by_role("button", name="Search").click()
    order = page.get_by_role("button", name=re.compile(r"^Order \+1415"))
    await expect(order.first).to_be_visible()
    label = await order.first.get_attribute("aria-label")
    number = label.split(" ", 1)[1]
    await order.first.click()
    card = page.locator("article.number")
    await expect(card.get_by_role("heading", name=number)).to_be_visible()
    await card.get_by_label("Friendly name").fill("support line")
    await card.get_by_label("Inbound URL").fill(receiver[0])
    await card.get_by_role("button", name="Save").click()
    await expect(card.get_by_role("heading", name=re.compile("support line"))).to_be_visible()
    first_secret = await card.locator(".secret-row code").inner_text()
    await card.get_by_role("button", name=re.compile("Rotate webhook secret")).click()
    await expect(card.locator(".secret-row code")).not_to_have_text(first_secret)
    await audit.check(page, "phone-numbers")

    # Inbound: a text from the handset appears without a reload
    await page.get_by_role("link", name="Inbound").click()
    await expect(page.locator("#live-state")).to_have_text("Listening for new texts…")
    await page.evaluate("window.__sameDocument = true")
    status, _, _ = await system.call("POST", "/sim/messages", json={"from": PHONE, "to": number,
                                                                     "text": "hello from the handset"})
    assert status == 202
    await expect(page.get_by_text("hello from the handset")).to_be_visible(timeout=20_000)  # once
    assert await page.evaluate("window.__sameDocument === true")  # the same document: no reload
    await audit.check(page, "inbound")
    await system.eventually(lambda: _async(bool(receiver[1])), timeout=20)
    await page.get_by_role("link", name="Phone numbers").click()
    await page.get_by_text("Recent webhook deliveries").click()
    await expect(page.locator("article.number").get_by_text("succeeded")).to_be_visible()

    # 10DLC: inline validation from the API, then a brand and a campaign that gets approved
    await page.get_by_role("link", name="10DLC").click()
    brand = page.locator("form").filter(has=page.get_by_role("button", name="Register brand"))
    await brand.get_by_label("Display name").fill("Browser Test")
    await brand.get_by_label("Brand email").fill("ops@example.com")
    await brand.get_by_label("Brand phone").fill("+14155550199")
    await brand.get_by_role("button", name="Register brand").click()
    ein = brand.get_by_label("EIN")
    await expect(ein).to_have_attribute("aria-invalid", "true")
    await expect(brand.locator("[data-field=ein] .field-error")).to_contain_text("required")
    await audit.check(page, "10dlc-validation")
    await ein.fill("12-3456789")
    await brand.get_by_label("Legal company name").fill("Browser Test Inc")
    await brand.get_by_label("Website").fill("https://example.com")
    for name, value in (("Street", "1 Main St"), ("City", "San Francisco"), ("State", "CA"), ("Postal code", "94105")):
        await brand.get_by_label(name, exact=True).fill(value)
    await brand.get_by_role("button", name="Register brand").click()
    await expect(page.get_by_role("cell", name="Browser Test", exact=True)).to_be_visible()
    campaign = page.locator("form").filter(has=page.get_by_role("button", name="Register campaign"))
    await campaign.get_by_label("Description").fill(
        "Account notifications for customers of Browser Test Inc about their orders and account.")
    await campaign.get_by_label("Message flow").fill(
        "Customers opt in on our website sign-up form by ticking a consent checkbox, then confirm by replying YES.")
    await campaign.get_by_label("Sample messages").fill("Browser Test: your order shipped.")  # no opt-out
    await campaign.get_by_label("Opt-out message").fill("You are unsubscribed.")
    await campaign.get_by_label("Help message").fill("Browser Test: help at ops@example.com. Reply STOP to opt out.")
    await campaign.get_by_role("button", name="Register campaign").click()
    # the page follows the review by itself: rejected, with its reasons; fixed and resubmitted; approved
    rejected = page.locator("article.campaign[data-status=rejected]")
    await expect(rejected).to_contain_text("SAMPLES_MISSING_OPT_OUT", timeout=30_000)
    await audit.check(page, "10dlc-rejected")
    await rejected.get_by_text("Edit and resubmit").click()
    await rejected.get_by_label("Sample messages").fill(
        "Browser Test: your order shipped. Reply STOP to opt out, HELP for help.")
    await rejected.get_by_role("button", name="Resubmit").click()
    await expect(page.locator("article.campaign[data-status=approved]")).to_be_visible(timeout=30_000)
    await audit.check(page, "10dlc-approved")

    # Compliance: quiet hours off (any hour works), then a double opt-in answered YES
    await page.get_by_role("link", name="Compliance").click()
    quiet = page.get_by_label("Quiet hours on")
    await quiet.uncheck()
    await page.get_by_role("button", name="Save compliance settings").click()
    await expect(page.locator("#toast")).to_have_text("Compliance settings saved.")
    await page.get_by_label("Contact number").fill(PHONE)
    await page.get_by_role("button", name="Send confirmation").click()
    await expect(page.locator("#toast")).to_contain_text("Confirmation sent")

    async def confirmation_arrived() -> bool:
        _, inbox, _ = await system.call("GET", f"/sim/handsets/{PHONE}/messages")
        return "Reply YES" in str(inbox)

    await system.eventually(confirmation_arrived, timeout=20)
    await system.call("POST", "/sim/messages", json={"from": PHONE, "to": number, "text": "YES"})

    async def granted() -> bool:
        st, b, _ = await system.call("GET", f"/v1/consent/{PHONE}", key=secret)
        return st == 200 and b["data"]["status"] == "granted"

    await system.eventually(granted, timeout=20)
    await page.reload()
    await expect(page.get_by_role("row", name=re.compile(re.escape(PHONE))).first).to_contain_text("granted")
    await page.get_by_role("button", name=f"Evidence and history of {PHONE}").click()
    panel = page.locator("#evidence-panel")
    await expect(panel).to_contain_text("ConsentGranted")
    await expect(panel).to_contain_text("reply text")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Export CSV").click()
    exported = await (await download.value).path()
    with open(exported, encoding="utf-8") as f:
        csv = f.read()
    assert PHONE in csv and "ConsentGranted" in csv, csv[:500]
    await audit.check(page, "compliance")

    # Messages: the dry run's verdict first, then the send, followed to delivered
    await page.get_by_role("link", name="Messages").click()
    await page.get_by_label("To", exact=True).fill(PHONE)
    await page.get_by_label("Text", exact=True).fill("hello from the dashboard")
    send = page.get_by_role("button", name="Send", exact=True)
    await expect(send).to_be_disabled()
    await page.get_by_role("button", name="Check").click()
    await expect(page.locator("#verdict")).to_contain_text("Allowed now")
    await audit.check(page, "messages-verdict")
    await send.click()
    await expect(page.get_by_text("Accepted:")).to_be_visible()
    await page.get_by_role("link", name=re.compile("^Follow ")).click()
    await expect(page.locator(".big .badge")).to_have_text("delivered", timeout=30_000)
    await expect(page.locator(".timeline")).to_contain_text("sent")
    await audit.check(page, "message-detail")

    # a scheduled message, then canceled (tolerated when the API has no cancel endpoint yet)
    await page.get_by_role("link", name="Messages").click()
    await page.get_by_label("To", exact=True).fill(PHONE)
    await page.get_by_label("Text", exact=True).fill("see you tomorrow")
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    await page.get_by_label("Send at (optional)").fill(later)
    await page.get_by_role("button", name="Check").click()
    await send.click()
    await expect(page.get_by_text("Accepted:")).to_contain_text("scheduled")
    await page.get_by_label("Status", exact=True).select_option("scheduled")
    await expect(page.get_by_role("cell", name="see you tomorrow")).to_be_visible()
    # two reloads at once (a double click on Refresh, a filter changed while a send reloads): each message
    # is listed once, from the newer load
    listed: list[str] = []
    page.on("response", lambda r: listed.append(r.url) if "/v1/messages?" in r.url else None)
    await page.evaluate("() => { const b = [...document.querySelectorAll('button')]"
                        ".find((x) => x.textContent === 'Refresh'); b.click(); b.click(); }")
    await system.eventually(lambda: _async(len(listed) >= 2), timeout=20)
    await expect(page.get_by_role("cell", name="see you tomorrow")).to_have_count(1)
    await audit.check(page, "messages-list")
    await page.get_by_role("link", name=re.compile("^Follow ")).click()
    await page.get_by_role("button", name="Cancel message").click()
    await page.locator("dialog").get_by_role("button", name="Cancel message").click()
    _, doc, _ = await system.call("GET", "/v1/openapi.json")
    if "/v1/messages/{id}/cancel" in doc["paths"]:
        await expect(page.locator(".big .badge")).to_have_text("canceled")
    else:
        await expect(page.locator("#toast")).to_contain_text("not available")
        await expect(page.locator(".big .badge")).to_have_text("scheduled")

    # the decision audit lists the gate's decisions on those sends (when the server has it)
    await page.get_by_role("link", name="Compliance").click()
    if "/v1/compliance/decisions" in doc["paths"]:
        decisions = page.get_by_role("region", name="Gate decisions")
        await expect(decisions.get_by_role("row", name=re.compile("allow")).first).to_be_visible()
        await expect(decisions).to_contain_text("submit")  # decided again right before the carrier
    else:
        await expect(page.get_by_text("decision audit is not available")).to_be_visible()
    await audit.check(page, "compliance-audit")

    # Billing and the overview with data
    await page.get_by_role("link", name="Billing").click()
    await expect(page.get_by_role("cell", name="signup credit")).to_be_visible()
    await audit.check(page, "billing")
    await page.get_by_role("link", name="Overview").click()
    await expect(page.get_by_text("1 approved")).to_be_visible()
    assert "null" not in await page.locator("#app").inner_text()
    await page.evaluate("window.__sameDocument = true")
    await system.call("POST", "/sim/messages", json={"from": PHONE, "to": number, "text": "one for the overview"})
    await expect(page.get_by_role("cell", name="one for the overview")).to_be_visible()
    assert await page.evaluate("window.__sameDocument === true")
    await audit.check(page, "overview")

    # the reference
    await page.goto(gw + "/docs")
    await expect(page.get_by_role("heading", name="AgentMessage API reference")).to_be_visible()
    # the whole reference is very tall, and every operation is drawn by one template: axe checks the
    # navigation, the introduction, the error table and the first operations (each over 10 s)
    await audit.check(page, "docs", full_page=False, context={"include": [
        ["nav"], ["#intro"], ["#auth"], ["#conventions"], ["#errors"], ["section.tag:nth-of-type(5)"]]})

    assert not audit.violations, audit.violations
    assert not page.js_errors, page.js_errors
    # nothing blocked by the CSP, no failed request but the two expected: the brand refused on purpose
    # (400) and the cancel a server without that endpoint answers 404
    unexpected = [e for e in page.console_errors if not ("/cancel" in e or ("400" in e and "/v1/brands" in e))]
    assert not unexpected, unexpected


async def test_sessions_log_out_and_log_out_everywhere(system: System, browser: Any, page: Any,
                                                       audit: Audit) -> None:
    gw = system.gateway
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    await _sign_up(page, system, email)
    cookies = await page.context.cookies()
    session = next(c for c in cookies if c["name"] == "am_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"

    # a second browser logs in with the form
    other = await browser.new_context()
    try:
        p2 = await other.new_page()
        await p2.goto(gw + "/settings")
        await p2.wait_for_url(re.compile(r"/login\?next=/settings$"))
        await p2.get_by_label("Email").fill(email)
        await p2.get_by_label("Password").fill("not the password")
        await p2.get_by_role("button", name="Log in").click()
        await expect(p2.get_by_role("alert")).to_contain_text("INVALID_CREDENTIALS")
        await p2.get_by_label("Password").fill(PASSWORD)
        await p2.get_by_role("button", name="Log in").click()
        await p2.wait_for_url(gw + "/settings")

        # the first sees both sessions and ends the other one: that browser is logged out
        await page.get_by_role("link", name="Settings").click()
        sessions = page.get_by_role("region", name="Live sessions")
        await expect(sessions.get_by_role("row")).to_have_count(3)  # a header and two sessions
        await expect(sessions).to_contain_text("this session")
        await audit.check(page, "settings-sessions")
        await sessions.get_by_role("button", name=re.compile("^End the session")).click()
        await expect(sessions.get_by_role("row")).to_have_count(2)
        await p2.reload()
        await p2.wait_for_url(re.compile(r"/login\?next="))
        await p2.get_by_label("Email").fill(email)
        await p2.get_by_label("Password").fill(PASSWORD)
        await p2.get_by_role("button", name="Log in").click()
        await p2.wait_for_url(gw + "/settings")

        # the first logs out everywhere: the second is logged out too
        await page.reload()
        await page.get_by_role("button", name="Log out everywhere").click()
        await page.locator("dialog").get_by_role("button", name="Log out everywhere").click()
        await page.wait_for_url(re.compile(r"/login$"))
        await p2.reload()
        await p2.wait_for_url(re.compile(r"/login\?next="))
    finally:
        await other.close()

    # the ended session's cookie opens nothing: without its CSRF token 403, with it 401
    jar = {"Cookie": f"am_session={session['value']}"}
    status, body, _ = await system.call("GET", "/v1/balance", headers=jar)
    assert status == 403 and body["error"]["code"] == "CSRF_FAILED"
    status, body, _ = await system.call("GET", "/v1/balance",
                                        headers={**jar, "X-CSRF-Token": csrf_token(session["value"])})
    assert status == 401 and body["error"]["code"] == "UNAUTHORIZED"

    # log in, log out with the button
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(gw + "/")
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url(re.compile(r"/login$"))
    await page.goto(gw + "/")
    await page.wait_for_url(re.compile(r"/login\?next=/$"))
    assert not page.js_errors, page.js_errors


async def _async(value: Any) -> Any:
    return value


async def test_the_accessibility_check_fails_on_a_serious_violation(page: Any, audit: Audit) -> None:
    """The harness itself: an unlabelled text box and unreadable text are reported, so a clean run means
    something."""
    await page.set_content("<html lang='en'><head><title>t</title></head><body><main><h1>x</h1>"
                           "<input type='text'><p style='color:#eee;background:#fff'>faint</p></main></body></html>")
    await audit.check(page, "broken")
    assert any(v.startswith("label") for v in audit.violations["broken"]), audit.violations
    assert any(v.startswith("color-contrast") for v in audit.violations["broken"]), audit.violations
