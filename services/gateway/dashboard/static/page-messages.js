// AgentMessage dashboard: Messages: send after the gate's dry run, list, detail with its timeline, cancel.

import { api, badge, clearErrors, confirmDialog, errorBox, field, form, h, money, myNumbers, render, section, shortId, showError, table, toast, values, when } from "./lib.js";

const STATUSES = ["scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "canceled"];

function verdictView(d) {
  const word = { allow: "Allowed now", deny: "Would be refused", defer: "Would be scheduled" }[d.decision] || d.decision;
  return h("div", { class: `verdict v-${d.decision}` },
    h("p", { class: "verdict-title" }, h("strong", {}, word), d.code ? ` — ${d.code}` : "", d.reason ? `: ${d.reason}` : ""),
    d.defer_until ? h("p", {}, "Goes out at ", when(d.defer_until), ".") : null,
    d.checks && d.checks.length ? h("ul", { class: "checks" }, d.checks.map((c) =>
      h("li", {}, badge(c.result), ` ${c.name}`, c.detail ? ` — ${c.detail}` : ""))) : null);
}

// the send form: "Check" runs the gate's dry run and shows its verdict; "Send" unlocks for what was checked
function sendForm(nums, sent) {
  const verdict = h("div", { id: "verdict", "aria-live": "polite" });
  const result = h("div", { "aria-live": "polite" });
  let checked = null;
  const sendBtn = h("button", { type: "button", disabled: true }, "Send");
  const fromOpts = nums.length ? nums.map((n) => [n.phone_number, n.friendly_name ? `${n.phone_number} (${n.friendly_name})` : n.phone_number]) : [["", "No number yet"]];
  const body = () => {
    const v = values(f);
    const out = { from: v.from, to: v.to, text: f.elements.text.value, category: v.category };
    if (v.send_at) out.send_at = new Date(v.send_at).toISOString();
    return out;
  };
  const f = form([
    field("From", "from", { options: fromOpts }),
    field("To", "to", { type: "tel", placeholder: "+15551234567", autocomplete: "off", required: true }),
    field("Text", "text", { textarea: true, rows: 3, required: true }),
    field("Category", "category", { options: ["conversational", "transactional", "marketing"] }),
    field("Send at (optional)", "send_at", { type: "datetime-local", hint: "Your local time; leave empty to send now." }),
  ], "Check", async (f) => {
    const b = body();
    const r = await api("POST", "/v1/compliance/check", { from: b.from, to: b.to, text: b.text, category: b.category });
    if (!r.ok) { verdict.replaceChildren(); sendBtn.disabled = true; return showError(f, r.error); }
    checked = JSON.stringify(b);
    verdict.replaceChildren(verdictView(r.data));
    sendBtn.disabled = false;
  }, { extra: sendBtn });
  f.addEventListener("input", () => { if (checked !== JSON.stringify(body())) { sendBtn.disabled = true; verdict.replaceChildren(); } });
  sendBtn.addEventListener("click", async () => {
    clearErrors(f);
    sendBtn.disabled = true;
    const r = await api("POST", "/v1/messages", body());
    if (!r.ok) { sendBtn.disabled = false; return showError(f, r.error); }
    result.replaceChildren(h("p", { class: "ok-box" }, "Accepted: ", badge(r.data.status), ` ${r.data.segments} segment(s), ${money(r.data.price)}. `,
      h("a", { href: `/messages/${r.data.id}` }, `Follow ${shortId(r.data.id)}`)));
    toast(`Message ${r.data.status}.`);
    checked = null;
    await sent();
  });
  return [f, verdict, result];
}

// the messages sent, newest first, filtered by status, a page at a time
function sentList() {
  const list = h("div");
  const statusSel = field("Status", "status", { options: [["", "All statuses"], ...STATUSES] });
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(false) }, "Load more");
  let cursor = null;
  let rows = [];
  let generation = 0;  // a reload (a send, a new filter) makes the answers of earlier loads stale
  async function load(reset) {
    const mine = reset ? ++generation : generation;
    const st = statusSel.querySelector("select").value;
    const q = new URLSearchParams({ limit: "20" });
    if (st) q.set("status", st);
    if (!reset && cursor) q.set("cursor", cursor);
    more.disabled = true;
    const r = await api("GET", `/v1/messages?${q}`);
    if (mine !== generation) return;
    more.disabled = false;
    if (!r.ok) return list.replaceChildren(errorBox(r.error));
    rows = (reset ? [] : rows).concat(r.data);
    cursor = r.meta.next_cursor;
    more.hidden = !cursor;
    list.replaceChildren(table("Sent messages", [
      ["Created", (m) => when(m.created_at)], ["From", (m) => m.from], ["To", (m) => m.to],
      ["Text", (m) => h("span", { class: "clip" }, m.text)], ["Status", (m) => badge(m.status)],
      ["Details", (m) => h("a", { href: `/messages/${m.id}`, "aria-label": `Details of ${shortId(m.id)} to ${m.to}` }, shortId(m.id))],
    ], rows, st ? `No message is ${st}.` : "No message sent yet."));
  }
  statusSel.querySelector("select").addEventListener("change", () => load(true));
  return { list, statusSel, more, load };
}

export async function messagesPage() {
  const nums = await myNumbers();
  const sent = sentList();
  await sent.load(true);
  render(section("Send a message", h("p", {}, "Check runs the compliance gate as a dry run (consent, opt-out, quiet hours, registration); then Send."),
    ...sendForm(nums, () => sent.load(true))),
  section("Sent", h("div", { class: "toolbar" }, sent.statusSel, h("button", { type: "button", class: "secondary", onclick: () => sent.load(true) }, "Refresh")), sent.list, sent.more));
}

const TERMINAL = new Set(["delivered", "undelivered", "failed", "canceled"]);

export async function messagePage() {
  const id = location.pathname.split("/").pop();
  const note = h("div", { "aria-live": "polite" });
  let timer = null;
  async function load() {
    const r = await api("GET", `/v1/messages/${encodeURIComponent(id)}`);
    if (!r.ok) return render(errorBox(r.error), h("p", {}, h("a", { href: "/messages" }, "Back to the list")));
    const m = r.data;
    document.querySelector("h1").textContent = `Message to ${m.to}`;
    const cancelable = m.status === "scheduled" || m.status === "queued";
    const cb = await api("GET", `/v1/messages/${encodeURIComponent(id)}/status-callbacks`);
    render(
      h("p", {}, h("a", { href: "/messages" }, "← All sent")),
      section("Status", h("p", { class: "big" }, badge(m.status), m.status_reason ? ` ${m.status_reason}` : "", m.error_code ? ` (${m.error_code})` : ""),
        h("dl", { class: "facts" },
          ...[["Id", h("code", {}, m.id)], ["From", m.from], ["To", m.to], ["Text", m.text], ["Category", m.category],
            ["Segments", `${m.segments} (${m.encoding})`], ["Price", money(m.price)], ["Created", when(m.created_at)],
            ["Send at", m.send_at ? when(m.send_at) : "now"], ["Expected send", m.expected_send_at ? when(m.expected_send_at) : "—"],
            ["Queue position", m.queue_position ?? "—"]].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
        cancelable ? h("button", { type: "button", class: "danger", onclick: cancel }, "Cancel message") : null, note),
      section("Timeline", h("ol", { class: "timeline" }, (m.timeline || []).map((t) =>
        h("li", {}, badge(t.status), " ", when(t.at), t.reason ? ` — ${t.reason}` : "")))),
      section("Status callbacks", cb.ok ? table("Status callbacks", [
        ["Status", (c) => c.status], ["State", (c) => badge(c.state)], ["Attempts", (c) => String(c.attempts)],
        ["Last answer", (c) => c.last_status_code ? `HTTP ${c.last_status_code}` : c.last_error || "—"],
        ["URL", (c) => h("span", { class: "clip" }, c.url)],
      ], cb.data, "No status callback URL for this message.") : errorBox(cb.error)));
    clearTimeout(timer);
    if (!TERMINAL.has(m.status)) timer = setTimeout(load, 3000);
  }
  async function cancel() {
    if (!await confirmDialog("Cancel this message?", "It will not be sent, and its credit is refunded.", "Cancel message")) return;
    const r = await api("POST", `/v1/messages/${encodeURIComponent(id)}/cancel`);
    if (!r.ok) {
      const msg = r.status === 404 || r.status === 405
        ? "Canceling is not available on this server yet (the API answered " + r.status + "); the message is unchanged."
        : `${r.error.message} (${r.error.code})`;
      toast(msg, "error");
      return;
    }
    toast("Message canceled.");
    await load();
  }
  await load();
}
