// AgentMessage dashboard: Overview: balance, numbers, campaigns, recent sends and texts.

import { api, badge, errorBox, h, money, render, section, shortId, table, when } from "./lib.js";

export async function overviewPage() {
  const [bal, nums, camps, msgs, inb] = await Promise.all([
    api("GET", "/v1/balance?limit=1"), api("GET", "/v1/phone-numbers?limit=100"), api("GET", "/v1/campaigns?limit=100"),
    api("GET", "/v1/messages?limit=5"), api("GET", "/v1/inbound-messages?limit=5"),
  ]);
  const numbers = nums.ok ? nums.data : [];
  const campaigns = camps.ok ? camps.data : [];
  const count = (s) => campaigns.filter((c) => c.status === s).length;
  const welcome = new URLSearchParams(location.search).get("welcome")
    ? h("section", { class: "card welcome", "aria-labelledby": "welcome-h" }, h("h2", { id: "welcome-h" }, "Welcome to AgentMessage"),
      h("ol", {},
        h("li", {}, "Create a key under Settings, then API keys. The secret is shown once."),
        h("li", {}, h("a", { href: "/phone-numbers" }, "Order a number"), " — it receives texts at once."),
        h("li", {}, h("a", { href: "/10dlc" }, "Register a brand and a campaign"), " to unlock sending."),
        h("li", {}, "Collect consent (double opt-in), then send.")))
    : null;
  render(
    welcome,
    h("div", { class: "stats" },
      h("div", { class: "stat" }, h("p", { class: "label" }, "Balance"), h("p", { class: "value", id: "balance" }, bal.ok ? money(bal.data.balance) : "—")),
      h("div", { class: "stat" }, h("p", { class: "label" }, "Numbers"), h("p", { class: "value" }, String(numbers.length)),
        h("p", { class: "hint" }, `${numbers.filter((n) => n.sending_enabled).length} can send`)),
      h("div", { class: "stat" }, h("p", { class: "label" }, "Campaigns"),
        h("p", { class: "value" }, campaigns.length ? `${count("approved")} approved` : "none"),
        h("p", { class: "hint" }, campaigns.length ? `${count("pending_review")} in review, ${count("rejected")} rejected` : "Register one to send."))),
    section("Recent sends", msgs.ok ? table("Recent sends", [
      ["Created", (m) => when(m.created_at)], ["To", (m) => m.to], ["Text", (m) => h("span", { class: "clip" }, m.text)],
      ["Status", (m) => badge(m.status)], ["Details", (m) => h("a", { href: `/messages/${m.id}` }, shortId(m.id))],
    ], msgs.data, "No message sent yet.") : errorBox(msgs.error)),
    section("Recent texts received", h("div", { id: "recent-inbound", "aria-live": "polite" }, recentInbound(inb))),
  );
  // new texts show up here too, without a reload
  let cond = inb.ok && inb.data.length ? `after=${encodeURIComponent(inb.data[0].id)}` : `since=${encodeURIComponent(new Date(Date.now() - 2000).toISOString())}`;
  for (;;) {
    const r = await api("GET", `/v1/inbound-messages?wait=25&limit=50&${cond}`);
    if (!r.ok) { await new Promise((res) => setTimeout(res, 2000)); continue; }
    if (!r.data.length) continue;
    const latest = await api("GET", "/v1/inbound-messages?limit=5");
    if (latest.ok && latest.data.length) {
      document.getElementById("recent-inbound").replaceChildren(recentInbound(latest));
      cond = `after=${encodeURIComponent(latest.data[0].id)}`;
    }
  }
}

function recentInbound(inb) {
  return inb.ok ? table("Recent texts received", [
    ["Received", (m) => when(m.received_at)], ["From", (m) => m.from], ["To", (m) => m.to], ["Text", (m) => h("span", { class: "clip" }, m.body)],
  ], inb.data, "No text received yet.") : errorBox(inb.error);
}
