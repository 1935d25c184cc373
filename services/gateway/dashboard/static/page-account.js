// AgentMessage dashboard: Billing (the credit ledger) and Settings (sessions, the callback secret).

import { api, badge, confirmDialog, copy, errorBox, h, money, render, section, shortId, table, toast, when } from "./lib.js";

export async function billingPage() {
  const list = h("div");
  const bal = h("p", { class: "value" }, "—");
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load() }, "Load more");
  let cursor = null;
  let rows = [];
  async function load() {
    more.disabled = true;  // one page at a time: a second click would add the same page twice
    const r = await api("GET", `/v1/balance?limit=50${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`);
    more.disabled = false;
    if (!r.ok) return list.replaceChildren(errorBox(r.error));
    bal.textContent = money(r.data.balance);
    rows = rows.concat(r.data.entries);
    cursor = r.meta.next_cursor;
    more.hidden = !cursor;
    list.replaceChildren(table("Credit ledger", [
      ["When", (e) => when(e.created_at)], ["Kind", (e) => badge(e.kind)],
      ["Amount", (e) => h("span", { class: Number(e.amount) < 0 ? "neg" : "pos" }, `${Number(e.amount) < 0 ? "−" : "+"}$${Math.abs(Number(e.amount)).toFixed(4)}`)],
      ["Reason", (e) => e.reason], ["Reference", (e) => e.reference ? h("code", {}, shortId(e.reference)) : "—"],
    ], rows, "No ledger entry yet."));
  }
  await load();
  render(h("div", { class: "stats" }, h("div", { class: "stat" }, h("p", { class: "label" }, "Available credit"), bal)),
    section("Credit ledger", h("p", {}, "Grants, holds for numbers and messages, and refunds of what never reached the carrier."), list, more));
}

// ----------------------------------------------------------------------------------------- settings

function browserName(ua) {
  if (!ua) return "unknown browser";
  const m = ua.match(/(Firefox|Edg|Chrome|Chromium|Safari)\/[\d.]+/);
  return (m ? m[0].replace("Edg/", "Edge/") : ua.slice(0, 40)) + (/Mobile/.test(ua) ? " (mobile)" : "");
}

export async function settingsPage() {
  const sessionsBox = h("div");
  async function loadSessions() {
    const r = await api("GET", "/v1/sessions");
    sessionsBox.replaceChildren(r.ok ? table("Live sessions", [
      ["Browser", (x) => x.current ? h("span", {}, browserName(x.user_agent), " ", badge("this_session")) : browserName(x.user_agent)],
      ["Logged in", (x) => when(x.created_at)], ["Expires", (x) => when(x.expires_at)],
      ["", (x) => x.current ? "" : h("button", { type: "button", class: "danger small", "aria-label": `End the session from ${browserName(x.user_agent)}, logged in ${new Date(x.created_at).toLocaleString()}`, onclick: async () => {
        const d = await api("DELETE", `/v1/sessions/${x.id}`);
        if (!d.ok) return toast(d.error.message, "error");
        toast("That browser is logged out.");
        await loadSessions();
      } }, "End")],
    ], r.data, "No live session.") : errorBox(r.error));
  }
  const [me, cb] = await Promise.all([api("GET", "/v1/sessions/current"), api("GET", "/v1/messages/callback-secret"), loadSessions()]);
  const secret = h("code", { hidden: true }, cb.ok ? cb.data.secret : "");
  render(
    section("Account", me.ok ? h("dl", { class: "facts" },
      h("dt", {}, "Organization"), h("dd", {}, me.data.organization_name), h("dt", {}, "Organization id"), h("dd", {}, h("code", {}, me.data.org_id)),
      h("dt", {}, "Email"), h("dd", {}, me.data.email), h("dt", {}, "Session expires"), h("dd", {}, when(me.data.expires_at))) : errorBox(me.error)),
    section("Sessions", h("p", {}, "Where you are logged in. End one to log that browser out, or log out everywhere, this one included."),
      sessionsBox,
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!await confirmDialog("Log out everywhere?", "Every dashboard session of your account ends now.", "Log out everywhere")) return;
        await api("DELETE", "/v1/sessions");
        location.href = "/login";
      } }, "Log out everywhere")),
    section("Status-callback signing secret", h("p", {}, "Signs status callbacks of numbers without a webhook secret of their own."),
      cb.ok ? h("p", {}, secret, " ", h("button", { type: "button", class: "secondary", onclick: (ev) => { secret.hidden = !secret.hidden; ev.target.textContent = secret.hidden ? "Show secret" : "Hide secret"; } }, "Show secret"),
        " ", h("button", { type: "button", class: "secondary", onclick: () => copy(cb.data.secret, "The signing secret") }, "Copy secret")) : errorBox(cb.error)),
    // link names differ from the navigation's, so each of those names finds one link on every page
    section("Elsewhere", h("p", {}, "Keys for the API: ", h("a", { href: "/settings/api-keys" }, "manage keys"), ". Credit: ", h("a", { href: "/billing" }, "the credit ledger"),
      ". Every endpoint is documented in the API reference (linked below the navigation).")));
}
