// AgentMessage dashboard: Phone numbers: search, order, configure, webhook deliveries, release.

import { api, badge, confirmDialog, errorBox, field, forgetNumbers, form, h, money, render, section, showError, table, toast, values, when } from "./lib.js";

function searchForm(results, reload) {
  return form([
    field("Area code", "area_code", { value: "415", inputmode: "numeric", required: true }),
    field("How many", "quantity", { type: "number", value: "5" }),
  ], "Search", async (f) => {
    const v = values(f);
    const r = await api("POST", "/v1/phone-numbers/search", { area_code: v.area_code, quantity: Number(v.quantity) || 5 });
    if (!r.ok) return showError(f, r.error);
    results.replaceChildren(table("Available numbers", [
      ["Number", (n) => n.phone_number], ["Locality", (n) => `${n.locality}, ${n.region}`], ["Monthly", (n) => money(n.monthly_price)],
      ["", (n) => h("button", { type: "button", "aria-label": `Order ${n.phone_number}`, onclick: async (ev) => {
        ev.target.disabled = true;
        const o = await api("POST", "/v1/phone-numbers/orders", { numbers: [n.phone_number] });
        ev.target.disabled = false;
        if (!o.ok) return toast(o.error.message, "error");
        toast(`${n.phone_number} is yours. It can receive texts now.`);
        ev.target.closest("tr").remove();
        forgetNumbers();
        await reload();
      } }, "Order")],
    ], r.data, "No number available in that area code."));
  }, { cls: "inline" });
}

// the last texts to a number, each with how its webhook delivery went
async function deliveries(n, box) {
  const r = await api("GET", `/v1/inbound-messages?to=${encodeURIComponent(n.phone_number)}&limit=5`);
  if (!r.ok) return box.replaceChildren(errorBox(r.error));
  const rows = await Promise.all(r.data.map(async (m) => {
    const d = await api("GET", `/v1/inbound-messages/${m.id}/deliveries`);
    return { ...m, delivery: d.ok ? d.data : null };
  }));
  box.replaceChildren(table(`Recent webhook deliveries of ${n.phone_number}`, [
    ["Received", (m) => when(m.received_at)], ["From", (m) => m.from], ["Text", (m) => h("span", { class: "clip" }, m.body)],
    ["Delivery", (m) => {
      const d = m.delivery;
      if (!d) return "—";
      if (d.state === "none") return "not pushed (no inbound URL then)";
      const a = d.attempts[d.attempts.length - 1];
      return h("span", {}, badge(d.state), ` ${d.attempt_count} attempt(s)`,
        a ? (a.status_code ? `, last HTTP ${a.status_code}` : a.error ? `, ${a.error}` : "") : "",
        d.next_attempt_at ? [", next ", when(d.next_attempt_at)] : "");
    }],
  ], rows, "No text received on this number yet."));
}

function numberCard(n, reload) {
  const delBox = h("div");
  const settings = form([
    field("Friendly name", "friendly_name", { value: n.friendly_name || "" }),
    field("Inbound URL", "inbound_url", { type: "url", value: n.inbound_url || "", hint: "Each text is POSTed here, signed with X-AmCore-Signature (HTTPS)." }),
  ], "Save", async (f) => {
    const v = values(f);
    const r = await api("PATCH", `/v1/phone-numbers/${n.id}`, { friendly_name: v.friendly_name || null, inbound_url: v.inbound_url || null });
    if (!r.ok) return showError(f, r.error);
    toast(`${n.phone_number} saved.`);
    forgetNumbers();
    await reload();
  });
  return h("article", { class: "card number", "aria-labelledby": `n-${n.id}` },
    h("h3", { id: `n-${n.id}` }, n.phone_number, n.friendly_name ? h("span", { class: "muted" }, ` — ${n.friendly_name}`) : null),
    h("p", {}, n.sending_enabled ? badge("can_send") : badge("receive_only"), " ",
      n.sending_enabled ? "On an approved campaign." : "Receives texts; sending unlocks once a campaign is approved."),
    settings,
    h("div", { class: "secret-row" },
      h("p", {}, "Webhook secret: ", n.webhook_secret ? h("code", {}, n.webhook_secret) : h("span", { class: "muted" }, "made with the first inbound URL")),
      n.previous_webhook_secret_expires_at ? h("p", { class: "hint" }, "The previous secret also signs until ", when(n.previous_webhook_secret_expires_at), ".") : null,
      h("button", { type: "button", class: "secondary", disabled: !n.webhook_secret, "aria-label": `Rotate webhook secret of ${n.phone_number}`, onclick: async () => {
        const r = await api("POST", `/v1/phone-numbers/${n.id}/webhook-secret/rotate`);
        if (!r.ok) return toast(r.error.message, "error");
        toast("New webhook secret made; the previous one keeps signing for 24 hours.");
        await reload();
      } }, "Rotate webhook secret")),
    h("details", { ontoggle: (ev) => { if (ev.target.open) deliveries(n, delBox); } },
      h("summary", {}, "Recent webhook deliveries"), delBox),
    h("div", { class: "actions" }, h("button", { type: "button", class: "danger", "aria-label": `Release ${n.phone_number}`, onclick: async () => {
      if (!await confirmDialog(`Release ${n.phone_number}?`, "The number goes back to the carrier and stops receiving texts. This cannot be undone.", "Release")) return;
      const r = await api("DELETE", `/v1/phone-numbers/${n.id}`);
      if (!r.ok) return toast(r.error.message, "error");
      toast(`${n.phone_number} released.`);
      forgetNumbers();
      await reload();
    } }, "Release")));
}

export async function numbersPage() {
  const results = h("div");
  const owned = h("div");
  async function load() {
    const r = await api("GET", "/v1/phone-numbers?limit=100");
    owned.replaceChildren(...(r.ok ? (r.data.length ? r.data.map((n) => numberCard(n, load)) : [h("p", { class: "empty" }, "No number yet: search and order one above.")]) : [errorBox(r.error)]));
  }
  await load();
  render(section("Find a number", h("p", {}, "Search is a preview, not a reservation. A number costs its first month from your credit."), searchForm(results, load), results),
    h("h2", { class: "section-title" }, "Your numbers"), owned);
}
