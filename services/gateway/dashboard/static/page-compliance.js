// AgentMessage dashboard: Compliance: double opt-in, consents, opt-outs, quiet hours, exports, decisions.

import { api, apiHas, badge, confirmDialog, download, errorBox, field, form, h, myNumbers, render, section, showError, table, toast, values, when } from "./lib.js";

const SETTINGS_FIELDS = (v0) => [
  field("Quiet hours on", "quiet_hours_enabled", { type: "checkbox", value: v0.quiet_hours_enabled, hint: "8am–9pm in the recipient's time zone, stricter where a state says so." }),
  field("Outside quiet hours", "quiet_hours_action", { options: [["defer", "defer (schedule for when the window opens)"], ["reject", "reject (453 QUIET_HOURS)"]], value: v0.quiet_hours_action }),
  field("Conversation window on", "conversation_window_enabled", { type: "checkbox", value: v0.conversation_window_enabled, hint: "Allow replies without recorded consent after the contact texted." }),
  field("Conversation window (hours)", "conversation_window_hours", { type: "number", value: v0.conversation_window_hours }),
  field("Double opt-in expiry (hours)", "double_opt_in_expiry_hours", { type: "number", value: v0.double_opt_in_expiry_hours }),
  field("HELP reply", "help_reply", { textarea: true, rows: 2, value: v0.help_reply || "", hint: "Empty: the campaign's help message, else ours." }),
  field("Opt-out reply", "opt_out_reply", { textarea: true, rows: 2, value: v0.opt_out_reply || "" }),
  field("Opt-in reply", "opt_in_reply", { textarea: true, rows: 2, value: v0.opt_in_reply || "" }),
];

// quiet hours, the conversation window and the automatic replies (PATCH /v1/compliance/settings)
async function settingsBox() {
  const s = await api("GET", "/v1/compliance/settings");
  if (!s.ok) return errorBox(s.error);
  return form(SETTINGS_FIELDS(s.data), "Save compliance settings", async (f) => {
    const v = values(f);
    const r = await api("PATCH", "/v1/compliance/settings", {
      quiet_hours_enabled: v.quiet_hours_enabled, quiet_hours_action: v.quiet_hours_action,
      conversation_window_enabled: v.conversation_window_enabled, conversation_window_hours: Number(v.conversation_window_hours),
      double_opt_in_expiry_hours: Number(v.double_opt_in_expiry_hours),
      help_reply: v.help_reply || null, opt_out_reply: v.opt_out_reply || null, opt_in_reply: v.opt_in_reply || null,
    });
    if (!r.ok) return showError(f, r.error);
    toast("Compliance settings saved.");
  });
}

function doubleOptInForm(nums, changed) {
  return form([
    field("From number", "phone_number_id", { options: nums.length ? nums.map((n) => [n.id, n.phone_number]) : [["", "No number yet"]] }),
    field("Contact number", "contact_number", { type: "tel", placeholder: "+15551234567", required: true }),
    field("Confirmation text", "confirmation_text", { textarea: true, rows: 2, value: "Reply YES to confirm you want these messages. Reply STOP to opt out, HELP for help." }),
  ], "Send confirmation", async (f) => {
    const r = await api("POST", "/v1/consent/double-opt-in", values(f));
    if (!r.ok) return showError(f, r.error);
    toast(`Confirmation sent to ${r.data.contact_number}; a reply of YES before ${new Date(r.data.expires_at).toLocaleString()} grants consent.`);
    await changed();
  });
}

function recordConsentForm(changed) {
  return form([
    field("Contact", "contact_number", { type: "tel", placeholder: "+15551234567", required: true }),
    field("Method", "method", { options: ["web_form", "paper", "verbal", "keyword", "import", "other"] }),
    field("Disclosure text", "disclosure_text", { textarea: true, rows: 2, required: true, hint: "The exact consent language the contact was shown." }),
    field("Source URL", "source_url", { type: "url" }),
  ], "Record consent", async (f) => {
    const v = values(f);
    const r = await api("POST", "/v1/consent", { contact_number: v.contact_number, method: v.method, evidence: { disclosure_text: v.disclosure_text, source_url: v.source_url } });
    if (!r.ok) return showError(f, r.error);
    toast(`Consent recorded for ${r.data.contact_number}.`);
    f.reset();
    await changed();
  });
}

// a contact's consent evidence and history, shown in the panel
async function showEvidence(panel, c) {
  const r = await api("GET", `/v1/consent/${encodeURIComponent(c.contact_number)}`);
  panel.hidden = false;
  if (!r.ok) return panel.replaceChildren(errorBox(r.error));
  const d = r.data;
  const ev = d.consent && d.consent.evidence;
  panel.replaceChildren(h("h3", {}, `Evidence and history of ${d.contact_number}`), h("p", {}, "Status: ", badge(d.status),
    d.consent ? ` — ${d.consent.method}, granted ` : "", d.consent ? when(d.consent.granted_at) : ""),
    ev ? h("dl", { class: "facts" }, ...Object.entries(ev).filter(([, v]) => v).flatMap(([k, v]) => [h("dt", {}, k.replace(/_/g, " ")), h("dd", {}, String(v))])) : h("p", {}, "No consent evidence on file."),
    h("h4", {}, "History"),
    h("ol", { class: "timeline" }, (d.history || []).map((e) => h("li", {}, h("strong", {}, e.type), " ", when(e.occurred_at)))));
  panel.focus();
}

function revokeButton(c, changed) {
  return h("button", { type: "button", class: "danger small", "aria-label": `Revoke consent of ${c.contact_number}`, onclick: async () => {
    if (!await confirmDialog(`Revoke consent of ${c.contact_number}?`, "The contact is opted out; messages still queued for it are canceled.", "Revoke consent")) return;
    const r = await api("DELETE", `/v1/consent/${encodeURIComponent(c.contact_number)}`);
    if (!r.ok) return toast(r.error.message, "error");
    toast(`${c.contact_number} opted out.`);
    await changed();
  } }, "Revoke");
}

// the consent ledger (filtered by status) and the opt-outs, with each contact's evidence and a revoke
function consentLedger() {
  const ledger = h("div");
  const optouts = h("div");
  const panel = h("div", { id: "evidence-panel", class: "evidence", tabindex: "-1", hidden: true });
  const statusSel = field("Consent status", "status", { options: [["", "All contacts"], ["granted", "granted"], ["opted_out", "opted out"], ["none", "none"]] });
  const consentTable = (caption, rows, empty) => table(caption, [
    ["Contact", (c) => c.contact_number], ["Status", (c) => badge(c.status)],
    ["Method", (c) => (c.consent && c.consent.method) || "—"],
    ["Since", (c) => when((c.consent && c.consent.granted_at) || c.opted_out_at || c.updated_at)],
    ["Evidence", (c) => h("button", { type: "button", class: "secondary small", "aria-label": `Evidence and history of ${c.contact_number}`,
      "aria-controls": "evidence-panel", onclick: () => showEvidence(panel, c) }, "Evidence")],
    ["", (c) => c.status === "granted" ? revokeButton(c, load) : ""],
  ], rows, empty);
  async function load() {
    const st = statusSel.querySelector("select").value;
    const [r, o] = await Promise.all([api("GET", `/v1/consent?limit=100${st ? "&status=" + st : ""}`), api("GET", "/v1/consent?limit=100&status=opted_out")]);
    ledger.replaceChildren(r.ok ? consentTable("Consent ledger", r.data, "No contact on the ledger yet.") : errorBox(r.error));
    optouts.replaceChildren(o.ok ? table("Opt-outs", [
      ["Contact", (c) => c.contact_number], ["Opted out", (c) => when(c.opted_out_at)], ["Source", (c) => c.opt_out_source || "—"],
      ["Rule", (c) => c.opt_out_rule || "—"],
    ], o.data, "Nobody has opted out.") : errorBox(o.error));
  }
  statusSel.querySelector("select").addEventListener("change", () => load());
  return { ledger, optouts, panel, statusSel, load };
}

// every gate decision recorded (GET /v1/compliance/decisions), filtered by outcome
function decisionAudit() {
  const audit = h("div");
  const outcomeSel = field("Outcome", "outcome", { options: [["", "All outcomes"], "allow", "deny", "defer"] });
  async function load() {
    // asked only of a server whose API has it (the reference says so), so an older one logs no 404
    const outcome = outcomeSel.querySelector("select").value;
    const r = await apiHas("get", "/v1/compliance/decisions")
      ? await api("GET", `/v1/compliance/decisions?limit=50${outcome ? "&outcome=" + outcome : ""}`)
      : { ok: false, status: 404, error: { code: "NOT_FOUND", message: "not available", details: {} } };
    if (!r.ok) {
      audit.replaceChildren(h("p", { class: "empty" }, r.status === 404 || r.status === 405
        ? "The decision audit is not available on this server yet."
        : `${r.error.message} (${r.error.code})`));
      return;
    }
    audit.replaceChildren(table("Gate decisions", [
      ["Decided", (d) => when(d.decided_at || d.created_at)], ["To", (d) => d.contact_number || d.to || "—"],
      ["Stage", (d) => d.stage || "—"], ["Outcome", (d) => badge(d.outcome || d.decision)],
      ["Reason", (d) => h("span", {}, d.code || d.reason_code ? h("code", {}, d.code || d.reason_code) : "", d.reason ? ` ${d.reason}` : "",
        d.defer_until ? [" — until ", when(d.defer_until)] : "")],
      ["Checks", (d) => h("ul", { class: "checks" }, (d.checks || []).map((c) => h("li", {}, badge(c.result), ` ${c.name}`)))],
    ], r.data, outcome ? `No ${outcome} decision.` : "No send decided yet."));
  }
  outcomeSel.querySelector("select").addEventListener("change", () => load());
  return { audit, outcomeSel, load };
}

const exportButton = (label, path, filename) => h("button", { type: "button", class: "secondary", onclick: () => download(path, filename) }, label);

export async function compliancePage() {
  const nums = await myNumbers();
  const consents = consentLedger();
  const decisions = decisionAudit();
  const [settings] = await Promise.all([settingsBox(), consents.load(), decisions.load()]);
  render(
    section("Double opt-in", h("p", {}, "Texts the contact a confirmation; a reply of YES grants consent, with the exchange as evidence."),
      doubleOptInForm(nums, consents.load)),
    section("Consent records", h("div", { class: "toolbar" }, consents.statusSel,
      exportButton("Export JSONL", "/v1/consent/export?format=jsonl", "consent-ledger.jsonl"),
      exportButton("Export CSV", "/v1/consent/export?format=csv", "consent-ledger.csv")),
      consents.ledger, consents.panel, h("details", {}, h("summary", {}, "Record a consent you collected"), recordConsentForm(consents.load))),
    section("Opt-outs", consents.optouts),
    section("Quiet hours and replies", settings),
    section("Decision audit", h("p", {}, "Every allow, deny and defer the gate recorded, at acceptance and again before the carrier."),
      h("div", { class: "toolbar" }, decisions.outcomeSel,
        exportButton("Export decisions (CSV)", "/v1/compliance/decisions/export?format=csv", "gate-decisions.csv")),
      decisions.audit));
}
