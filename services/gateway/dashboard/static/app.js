// AgentMessage dashboard: every page is drawn from the public /v1 API (same origin, session cookie +
// X-CSRF-Token header). No framework, no build step, nothing loaded from elsewhere.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const main = document.getElementById("main");
const app = document.getElementById("app");

// ---------------------------------------------------------------------------------------------- API

async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, {
      method, headers, signal, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    return { ok: false, status: 0, error: { code: "NETWORK", message: "The server did not answer; check the connection and retry.", details: {} } };
  }
  let j = null;
  try { j = await r.json(); } catch { /* not JSON */ }
  if (r.status === 401 && csrf) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  }
  if (j && j.success) return { ok: true, status: r.status, data: j.data, meta: j.meta || {} };
  return { ok: false, status: r.status, error: (j && j.error) || { code: "HTTP_" + r.status, message: `Unexpected answer (${r.status}).`, details: {} } };
}

let openapi = null;
async function apiHas(method, path) {
  if (!openapi) {
    try { openapi = await (await fetch("/v1/openapi.json")).json(); } catch { openapi = { paths: {} }; }
  }
  return !!(openapi.paths[path] && openapi.paths[path][method]);
}

async function download(path, filename) {
  const r = await fetch(path, { headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
  if (!r.ok) { toast(`Export failed (${r.status}).`, "error"); return; }
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: filename });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  toast(`Downloaded ${filename}.`);
}

// ---------------------------------------------------------------------------------------------- DOM

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "value") value = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : String(kid));
  }
  if (value !== undefined) setValue(e, value);
  return e;
}

// the value and, where the element has one, its default (what form.reset() goes back to)
function setValue(e, v) {
  if (e.tagName !== "SELECT" && "defaultValue" in e) e.defaultValue = v;
  e.value = v;
}

function section(title, ...kids) {
  const id = "s-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...kids);
}

let uid = 0;
function field(label, name, opts = {}) {
  const { type = "text", value, required, options, hint, textarea, rows, placeholder, autocomplete, inputmode } = opts;
  const id = `f-${name.replace(/[^a-zA-Z0-9_-]/g, "-")}-${++uid}`;
  let input;
  if (options) {
    input = h("select", { id, name }, options.map((o) => Array.isArray(o) ? h("option", { value: o[0] }, o[1]) : h("option", { value: o }, o)));
  } else if (textarea) {
    input = h("textarea", { id, name, rows: rows || 3, placeholder });
  } else {
    input = h("input", { id, name, type, placeholder, autocomplete, inputmode });
  }
  if (required) input.setAttribute("aria-required", "true");
  if (value !== undefined && value !== null) {
    if (type === "checkbox") { input.checked = !!value; input.defaultChecked = !!value; } else setValue(input, value);
  }
  const err = h("p", { class: "field-error", id: id + "-err", hidden: true });
  const hintEl = hint ? h("p", { class: "hint", id: id + "-hint" }, hint) : null;
  input.setAttribute("aria-describedby", [hintEl ? id + "-hint" : null, id + "-err"].filter(Boolean).join(" "));
  if (type === "checkbox") {
    return h("div", { class: "field check", "data-field": name }, input, h("label", { for: id }, label), hintEl, err);
  }
  return h("div", { class: "field", "data-field": name },
    h("div", { class: "label-row" }, h("label", { for: id }, label), required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null),
    input, hintEl, err);
}

function form(fields, submitLabel, onsubmit, { extra, cls } = {}) {
  const fe = h("p", { class: "form-error", role: "alert", hidden: true, tabindex: "-1" });
  const btn = h("button", { type: "submit" }, submitLabel);
  const f = h("form", { novalidate: true, class: cls || null }, fields, fe, h("div", { class: "actions" }, btn, extra));
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    btn.disabled = true;
    try { await onsubmit(f); } finally { btn.disabled = false; }
  });
  return f;
}

function values(f) {
  const out = {};
  for (const el of f.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else out[el.name] = el.value.trim();
  }
  return out;
}

function clearErrors(f) {
  f.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  f.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
  const fe = f.querySelector(".form-error");
  if (fe) { fe.hidden = true; fe.textContent = ""; }
}

// Puts an API error next to the field its details name (details.field, or details.fields{name: message}).
function showError(f, error) {
  const d = error.details || {};
  const pairs = d.fields ? Object.entries(d.fields) : d.field ? [[d.field, error.message]] : [];
  let first = null;
  for (const [name, msg] of pairs) {
    const parts = String(name).split(".");
    let box = null;
    for (let i = parts.length; i > 0 && !box; i--) {
      box = f.querySelector(`[data-field="${CSS.escape(parts.slice(0, i).join("."))}"]`);
    }
    if (!box) continue;
    const p = box.querySelector(".field-error");
    p.textContent = msg;
    p.hidden = false;
    const input = box.querySelector("input,select,textarea");
    input.setAttribute("aria-invalid", "true");
    first = first || input;
  }
  const fe = f.querySelector(".form-error");
  fe.textContent = `${first ? "Please fix the marked field. " : ""}${error.message} (${error.code})`;
  fe.hidden = false;
  (first || fe).focus();
}

function table(caption, cols, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty || "Nothing yet.");
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h("table", {},
      h("caption", { class: "sr-only" }, caption),
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c[0])))),
      h("tbody", {}, rows.map((r) => h("tr", { "data-id": r.id || null }, cols.map((c) => h("td", {}, c[1](r))))))));
}

function when(s) {
  if (!s) return "—";
  const d = new Date(s);
  return h("time", { datetime: s, title: s }, d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }));
}

function badge(status) {
  return h("span", { class: `badge s-${String(status).replace(/[^a-z_]/gi, "")}` }, String(status).replace(/_/g, " "));
}

// whole cents as dollars and cents; a fraction of a cent (a segment's price) with all four places
function money(s) {
  const n = Number(s);
  return (n < 0 ? "−$" : "$") + (Math.round(n * 100) === n * 100 ? Math.abs(n).toFixed(2) : Math.abs(n).toFixed(4));
}

function toast(msg, kind = "ok") {
  const t = document.getElementById("toast");
  t.className = kind;
  t.textContent = msg;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ""; t.className = ""; }, 6000);
}

function errorBox(error) {
  return h("p", { class: "form-error", role: "alert" }, `${error.message} (${error.code})`);
}

function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    let answered = false;
    const done = (v) => { if (!answered) { answered = true; resolve(v); } d.close(); };
    const d = h("dialog", { "aria-labelledby": "dlg-title", "aria-describedby": "dlg-text" },
      h("h2", { id: "dlg-title" }, title),
      h("p", { id: "dlg-text" }, text),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => done(true) }, action),
        h("button", { type: "button", class: "secondary", autofocus: true, onclick: () => done(false) }, "Cancel")));
    d.addEventListener("close", () => { if (!answered) { answered = true; resolve(false); } d.remove(); });
    document.body.append(d);
    d.showModal();
  });
}

async function copy(text, label) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h("textarea", { "aria-hidden": "true", class: "sr-only" });
    ta.value = text;
    document.body.append(ta); ta.select(); document.execCommand("copy"); ta.remove();
  }
  toast(`${label} copied to the clipboard.`);
}

function shortId(id) { return String(id).slice(0, 8); }

let numbersCache = null;
async function myNumbers() {
  if (!numbersCache) {
    const r = await api("GET", "/v1/phone-numbers?limit=100");
    numbersCache = r.ok ? r.data : [];
  }
  return numbersCache;
}

function render(...kids) {
  app.replaceChildren(...kids.filter((k) => k !== null && k !== undefined && k !== false));
  app.removeAttribute("aria-busy");
}

// ------------------------------------------------------------------------------------- public pages

function safeNext() {
  const n = new URLSearchParams(location.search).get("next") || "/";
  return n.startsWith("/") && !n.startsWith("//") ? n : "/";
}

function loginPage() {
  const f = form([
    field("Email", "email", { type: "email", autocomplete: "email", required: true }),
    field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
  ], "Log in", async (f) => {
    const v = values(f);
    const r = await api("POST", "/v1/sessions", { email: v.email, password: f.elements.password.value });
    if (!r.ok) return showError(f, r.error);
    location.href = safeNext();
  });
  render(f, h("p", {}, "New here? ", h("a", { href: "/signup" }, "Create an account")));
}

function signupPage() {
  const f = form([
    field("Email", "email", { type: "email", autocomplete: "email", required: true }),
    field("Password", "password", { type: "password", autocomplete: "new-password", required: true, hint: "At least 8 characters." }),
    field("Organization name", "organization_name", { autocomplete: "organization", required: true }),
  ], "Sign up", async (f) => {
    const v = values(f);
    const password = f.elements.password.value;
    const r = await api("POST", "/v1/signup", { email: v.email, password, organization_name: v.organization_name });
    if (!r.ok) return showError(f, r.error);
    const s = await api("POST", "/v1/sessions", { email: v.email, password });
    if (!s.ok) return showError(f, s.error);
    // The API's signup also makes a first key; the dashboard never shows a secret outside
    // Settings → API keys, so that one is revoked and you create yours there.
    await fetch(`/v1/api-keys/${r.data.api_key.id}`, {
      method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": s.data.csrf_token },
    });
    location.href = "/?welcome=1";
  });
  render(h("p", {}, "Every new account starts with $5.00 of credit."), f,
    h("p", {}, "Have an account? ", h("a", { href: "/login" }, "Log in")));
}

// ----------------------------------------------------------------------------------------- overview

async function overviewPage() {
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

// ----------------------------------------------------------------------------------------- API keys

async function keysPage() {
  const created = h("div", { id: "created-key" });
  const list = h("div");
  const f = form([field("Name", "name", { required: true, placeholder: "e.g. production agent", hint: "Something to tell your keys apart." })],
    "Create API key", async (f) => {
      const r = await api("POST", "/v1/api-keys", { name: values(f).name });
      if (!r.ok) return showError(f, r.error);
      f.reset();
      const secret = r.data.secret;
      created.replaceChildren(h("div", { class: "secret-box", role: "region", "aria-labelledby": "secret-h" },
        h("h3", { id: "secret-h" }, `New key “${r.data.name}”`),
        h("p", {}, "Copy it now: this is the only time the secret is shown."),
        h("p", {}, h("code", { class: "secret", id: "new-secret" }, secret)),
        h("button", { type: "button", onclick: () => copy(secret, "The API key") }, "Copy"),
        h("button", { type: "button", class: "secondary", onclick: () => created.replaceChildren() }, "Done, hide it")));
      created.querySelector("code").focus();
      toast("API key created. Copy the secret now; it will not be shown again.");
      await load();
    });
  async function load() {
    const r = await api("GET", "/v1/api-keys?limit=100");
    list.replaceChildren(r.ok ? table("API keys", [
      ["Name", (k) => k.name], ["Prefix", (k) => h("code", {}, k.prefix + "…")], ["Created", (k) => when(k.created_at)],
      ["Last used", (k) => k.last_used_at ? when(k.last_used_at) : "never"],
      ["", (k) => h("button", { type: "button", class: "danger small", "aria-label": `Revoke ${k.name} (${k.prefix})`, onclick: async () => {
        if (!await confirmDialog("Revoke this key?", `Requests with ${k.prefix}… will be refused at once. This cannot be undone.`, "Revoke")) return;
        const d = await api("DELETE", `/v1/api-keys/${k.id}`);
        if (!d.ok) return toast(d.error.message, "error");
        toast(`Key ${k.name} revoked.`);
        await load();
      } }, "Revoke")],
    ], r.data, "No API key yet.") : errorBox(r.error));
  }
  await load();
  render(section("Create a key", h("p", {}, "Every /v1 request takes a key as a bearer token (the ", h("code", {}, "Authorization"), " header)."), f, created),
    section("Your keys", list));
}

// ------------------------------------------------------------------------------------ phone numbers

async function numbersPage() {
  const results = h("div");
  const owned = h("div");
  const search = form([
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
        numbersCache = null;
        await load();
      } }, "Order")],
    ], r.data, "No number available in that area code."));
  }, { cls: "inline" });

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

  function numberCard(n) {
    const delBox = h("div");
    const settings = form([
      field("Friendly name", "friendly_name", { value: n.friendly_name || "" }),
      field("Inbound URL", "inbound_url", { type: "url", value: n.inbound_url || "", hint: "Each text is POSTed here, signed with X-AmCore-Signature (HTTPS)." }),
    ], "Save", async (f) => {
      const v = values(f);
      const r = await api("PATCH", `/v1/phone-numbers/${n.id}`, { friendly_name: v.friendly_name || null, inbound_url: v.inbound_url || null });
      if (!r.ok) return showError(f, r.error);
      toast(`${n.phone_number} saved.`);
      numbersCache = null;
      await load();
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
          await load();
        } }, "Rotate webhook secret")),
      h("details", { ontoggle: (ev) => { if (ev.target.open) deliveries(n, delBox); } },
        h("summary", {}, "Recent webhook deliveries"), delBox),
      h("div", { class: "actions" }, h("button", { type: "button", class: "danger", "aria-label": `Release ${n.phone_number}`, onclick: async () => {
        if (!await confirmDialog(`Release ${n.phone_number}?`, "The number goes back to the carrier and stops receiving texts. This cannot be undone.", "Release")) return;
        const r = await api("DELETE", `/v1/phone-numbers/${n.id}`);
        if (!r.ok) return toast(r.error.message, "error");
        toast(`${n.phone_number} released.`);
        numbersCache = null;
        await load();
      } }, "Release")));
  }

  async function load() {
    const r = await api("GET", "/v1/phone-numbers?limit=100");
    owned.replaceChildren(...(r.ok ? (r.data.length ? r.data.map(numberCard) : [h("p", { class: "empty" }, "No number yet: search and order one above.")]) : [errorBox(r.error)]));
  }
  await load();
  render(section("Find a number", h("p", {}, "Search is a preview, not a reservation. A number costs its first month from your credit."), search, results),
    h("h2", { class: "section-title" }, "Your numbers"), owned);
}

// ------------------------------------------------------------------------------------------ inbound

async function inboundPage() {
  const nums = await myNumbers();
  const seen = new Map();
  const body = h("tbody");
  const live = h("p", { class: "live", id: "live-state" }, "Listening for new texts…");
  const announce = h("p", { class: "sr-only", "aria-live": "polite", id: "inbound-announce" });
  const filter = field("Number", "to", { options: [["", "All numbers"], ...nums.map((n) => [n.phone_number, n.phone_number])] });
  let newest = null;
  let controller = null;

  function row(m, fresh) {
    const tr = h("tr", { "data-id": m.id, class: fresh ? "new" : null },
      h("td", {}, when(m.received_at)), h("td", {}, m.from), h("td", {}, m.to), h("td", {}, m.body));
    return tr;
  }
  function add(list, fresh) {
    const added = list.filter((m) => !seen.has(m.id));
    added.sort((a, b) => (a.received_at < b.received_at ? -1 : 1));
    for (const m of added) {
      seen.set(m.id, m);
      body.prepend(row(m, fresh));
      if (!newest || m.received_at >= newest.received_at) newest = m;
    }
    empty.hidden = seen.size > 0;
    if (fresh && added.length) {
      // the text itself is in the table (announced from there); saying it twice would show it twice
      announce.textContent = added.length === 1 ? `New text from ${added[0].from}` : `${added.length} new texts`;
    }
  }
  const empty = h("p", { class: "empty" }, "No text yet. Text one of your numbers and it appears here.");

  async function start() {
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    seen.clear(); body.replaceChildren(); newest = null;
    const to = filter.querySelector("select").value;
    const q = to ? `&to=${encodeURIComponent(to)}` : "";
    const since = new Date(Date.now() - 2000).toISOString();
    let first;
    try { first = await api("GET", `/v1/inbound-messages?limit=50${q}`, undefined, { signal }); } catch { return; }
    if (first.ok) add(first.data, false);
    // long poll: the API answers as soon as a newer text is there
    while (!signal.aborted) {
      const cond = newest ? `after=${encodeURIComponent(newest.id)}` : `since=${encodeURIComponent(since)}`;
      let r;
      try {
        r = await api("GET", `/v1/inbound-messages?wait=25&limit=50&${cond}${q}`, undefined, { signal });
      } catch { return; }
      if (r.ok) {
        live.textContent = "Listening for new texts…";
        add(r.data, true);
      } else {
        live.textContent = `Reconnecting (${r.error.message})…`;
        await new Promise((res) => setTimeout(res, 2000));
      }
    }
  }
  filter.querySelector("select").addEventListener("change", start);
  render(h("div", { class: "toolbar" }, filter, live), announce,
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Texts received" },
      h("table", { id: "inbound-table" }, h("caption", { class: "sr-only" }, "Texts received, newest first"),
        h("thead", {}, h("tr", {}, ["Received", "From", "To", "Text"].map((c) => h("th", { scope: "col" }, c)))), body)),
    empty);
  start();
}

// ----------------------------------------------------------------------------------------- messages

const STATUSES = ["scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed", "canceled"];

function verdictView(d) {
  const word = { allow: "Allowed now", deny: "Would be refused", defer: "Would be scheduled" }[d.decision] || d.decision;
  return h("div", { class: `verdict v-${d.decision}` },
    h("p", { class: "verdict-title" }, h("strong", {}, word), d.code ? ` — ${d.code}` : "", d.reason ? `: ${d.reason}` : ""),
    d.defer_until ? h("p", {}, "Goes out at ", when(d.defer_until), ".") : null,
    d.checks && d.checks.length ? h("ul", { class: "checks" }, d.checks.map((c) =>
      h("li", {}, badge(c.result), ` ${c.name}`, c.detail ? ` — ${c.detail}` : ""))) : null);
}

async function messagesPage() {
  const nums = await myNumbers();
  const verdict = h("div", { id: "verdict", "aria-live": "polite" });
  const result = h("div", { "aria-live": "polite" });
  const list = h("div");
  let cursor = null;
  let checked = null;
  const sendBtn = h("button", { type: "button", disabled: true }, "Send");
  const fromOpts = nums.length ? nums.map((n) => [n.phone_number, n.friendly_name ? `${n.phone_number} (${n.friendly_name})` : n.phone_number]) : [["", "No number yet"]];
  const sendAt = field("Send at (optional)", "send_at", { type: "datetime-local", hint: "Your local time; leave empty to send now." });
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
    sendAt,
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
    await load(true);
  });

  const statusSel = field("Status", "status", { options: [["", "All statuses"], ...STATUSES] });
  statusSel.querySelector("select").addEventListener("change", () => load(true));
  const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(false) }, "Load more");
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
  await load(true);
  render(section("Send a message", h("p", {}, "Check runs the compliance gate as a dry run (consent, opt-out, quiet hours, registration); then Send."), f, verdict, result),
    section("Sent", h("div", { class: "toolbar" }, statusSel, h("button", { type: "button", class: "secondary", onclick: () => load(true) }, "Refresh")), list, more));
}

const TERMINAL = new Set(["delivered", "undelivered", "failed", "canceled"]);

async function messagePage() {
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

// -------------------------------------------------------------------------------------------- 10DLC

const ENTITY = ["PRIVATE_PROFIT", "PUBLIC_PROFIT", "NON_PROFIT", "GOVERNMENT", "SOLE_PROPRIETOR"];
const USE_CASES = ["ACCOUNT_NOTIFICATION", "2FA", "CUSTOMER_CARE", "DELIVERY_NOTIFICATION", "FRAUD_ALERT", "HIGHER_EDUCATION",
  "LOW_VOLUME", "MARKETING", "MIXED", "POLLING_VOTING", "PUBLIC_SERVICE_ANNOUNCEMENT", "SECURITY_ALERT"];
const lines = (s) => s.split("\n").map((x) => x.trim()).filter(Boolean);
const words = (s) => s.split(/[,\s]+/).map((x) => x.trim()).filter(Boolean);

function campaignFields(c = {}) {
  return [
    field("Description", "description", { textarea: true, value: c.description, required: true, hint: "What the messages are for, who gets them." }),
    field("Message flow", "message_flow", { textarea: true, value: c.message_flow, required: true, hint: "How people opt in (web form, keyword, paper…)." }),
    field("Sample messages", "sample_messages", { textarea: true, rows: 4, value: (c.sample_messages || []).join("\n"), required: true, hint: "One per line, 1 to 5; include opt-out language (Reply STOP to opt out)." }),
    field("Opt-in keywords", "opt_in_keywords", { value: (c.opt_in_keywords || []).join(", "), hint: "Comma separated (optional)." }),
    field("Opt-in message", "opt_in_message", { textarea: true, rows: 2, value: c.opt_in_message || "" }),
    field("Opt-out keywords", "opt_out_keywords", { value: (c.opt_out_keywords || ["STOP"]).join(", ") }),
    field("Opt-out message", "opt_out_message", { textarea: true, rows: 2, value: c.opt_out_message || "" }),
    field("Help keywords", "help_keywords", { value: (c.help_keywords || ["HELP"]).join(", ") }),
    field("Help message", "help_message", { textarea: true, rows: 2, value: c.help_message || "" }),
    field("Messages contain links", "embedded_link", { type: "checkbox", value: c.embedded_link }),
    field("Messages contain phone numbers", "embedded_phone", { type: "checkbox", value: c.embedded_phone }),
  ];
}

function campaignBody(v) {
  const out = {
    description: v.description, message_flow: v.message_flow, sample_messages: lines(v.sample_messages),
    opt_out_keywords: words(v.opt_out_keywords), help_keywords: words(v.help_keywords),
    embedded_link: v.embedded_link, embedded_phone: v.embedded_phone,
  };
  if (v.opt_in_keywords) out.opt_in_keywords = words(v.opt_in_keywords);
  for (const k of ["opt_in_message", "opt_out_message", "help_message"]) if (v[k]) out[k] = v[k];
  return out;
}

async function tendlcPage() {
  const brandsBox = h("div");
  const campaignsBox = h("div");
  let brands = [];
  let timer = null;

  const brandForm = form([
    field("Entity type", "entity_type", { options: ENTITY }),
    field("Display name", "display_name", { required: true }),
    field("Legal company name", "company_name", { hint: "Not for sole proprietors." }),
    field("EIN", "ein", { placeholder: "12-3456789", hint: "US tax id; not for sole proprietors." }),
    field("Brand email", "email", { type: "email", required: true }),
    field("Brand phone", "phone", { type: "tel", placeholder: "+14155550123", required: true }),
    field("Website", "website", { type: "url", placeholder: "https://example.com" }),
    field("Vertical", "vertical", { value: "TECHNOLOGY" }),
    field("Street", "street"), field("City", "city"), field("State", "state", { placeholder: "CA" }),
    field("Postal code", "postal_code"), field("Country", "country", { value: "US" }),
  ], "Register brand", async (f) => {
    const v = values(f);
    const b = {};
    for (const [k, val] of Object.entries(v)) if (val !== "") b[k] = val;
    const r = await api("POST", "/v1/brands", b);
    if (!r.ok) return showError(f, r.error);
    toast(`Brand ${r.data.display_name} registered: identity ${r.data.identity_status}.`);
    f.reset();
    brandDetails.open = false;
    await load();
  }, { cls: "grid" });

  const brandSel = h("div");
  const campaignForm = form([brandSel, field("Use case", "use_case", { options: USE_CASES }), ...campaignFields()], "Register campaign", async (f) => {
    const v = values(f);
    const r = await api("POST", "/v1/campaigns", { brand_id: v.brand_id, use_case: v.use_case, ...campaignBody(v) });
    if (!r.ok) return showError(f, r.error);
    toast("Campaign submitted for carrier review.");
    numbersCache = null;
    f.reset();
    campaignDetails.open = false;
    await load();
  });

  function campaignCard(c) {
    const brand = brands.find((b) => b.id === c.brand_id);
    const resubmit = c.status === "rejected" ? h("details", {}, h("summary", {}, "Edit and resubmit"),
      form(campaignFields(c), "Resubmit", async (f) => {
        const r = await api("POST", `/v1/campaigns/${c.id}/resubmit`, campaignBody(values(f)));
        if (!r.ok) return showError(f, r.error);
        toast("Campaign resubmitted for review.");
        await load();
      })) : null;
    return h("article", { class: "card campaign", "aria-labelledby": `c-${c.id}`, "data-status": c.status },
      h("h3", { id: `c-${c.id}` }, `${c.use_case.replace(/_/g, " ")} campaign`, brand ? h("span", { class: "muted" }, ` — ${brand.display_name}`) : null),
      h("p", { class: "campaign-status" }, "Review: ", badge(c.status), c.reviewed_at ? [" on ", when(c.reviewed_at)] : c.submitted_at ? [" submitted ", when(c.submitted_at)] : null),
      c.rejection_reasons.length ? h("div", { class: "reasons" }, h("p", {}, h("strong", {}, "Rejection reasons:")),
        h("ul", {}, c.rejection_reasons.map((x) => h("li", {}, h("code", {}, x.code), ` ${x.description}`)))) : null,
      h("p", { class: "hint" }, `${c.phone_number_ids.length} number(s) on it · ${c.throughput_mpm} msg/min · daily cap ${c.daily_cap}`),
      h("p", {}, c.description),
      resubmit);
  }

  async function load() {
    const [b, c] = await Promise.all([api("GET", "/v1/brands?limit=100"), api("GET", "/v1/campaigns?limit=100")]);
    brands = b.ok ? b.data : [];
    brandsBox.replaceChildren(b.ok ? table("Brands", [
      ["Brand", (x) => x.display_name], ["Entity", (x) => x.entity_type.replace(/_/g, " ")], ["Identity", (x) => badge(x.identity_status)],
      ["Vetting score", (x) => String(x.vetting_score)], ["Throughput", (x) => `${x.throughput_mpm}/min`], ["Registered", (x) => when(x.created_at)],
    ], brands, "No brand yet: register yours first.") : errorBox(b.error));
    const sel = brands.length ? field("Brand", "brand_id", { options: brands.map((x) => [x.id, x.display_name]) }) : h("p", { class: "empty" }, "Register a brand first.");
    brandSel.replaceChildren(sel);
    const campaigns = c.ok ? c.data : [];
    campaignsBox.replaceChildren(...(c.ok ? (campaigns.length ? campaigns.map(campaignCard) : [h("p", { class: "empty" }, "No campaign yet.")]) : [errorBox(c.error)]));
    if (first) {  // open the forms that are the next step; later loads leave them as the user set them
      brandDetails.open = !brands.length;
      campaignDetails.open = !!brands.length && !campaigns.length;
      first = false;
    } else if (brands.length && !campaigns.length) campaignDetails.open = true;
    clearTimeout(timer);
    if (campaigns.some((x) => x.status === "pending_review")) timer = setTimeout(load, 2000);
  }
  let first = true;
  const brandDetails = h("details", {}, h("summary", {}, "Register a brand"), brandForm);
  const campaignDetails = h("details", {}, h("summary", {}, "Register a campaign"), campaignForm);
  await load();
  render(
    section("Brands", brandsBox, brandDetails),
    section("Campaigns", h("p", {}, "A campaign goes to carrier review; sending from its numbers unlocks when it is approved. This page updates itself while a review is pending."),
      h("div", { "aria-live": "polite" }, campaignsBox), campaignDetails));
}

// --------------------------------------------------------------------------------------- compliance

async function compliancePage() {
  const nums = await myNumbers();
  const settingsBox = h("div");
  const ledger = h("div");
  const optouts = h("div");
  const audit = h("div");

  const s = await api("GET", "/v1/compliance/settings");
  if (s.ok) {
    const v0 = s.data;
    settingsBox.replaceChildren(form([
      field("Quiet hours on", "quiet_hours_enabled", { type: "checkbox", value: v0.quiet_hours_enabled, hint: "8am–9pm in the recipient's time zone, stricter where a state says so." }),
      field("Outside quiet hours", "quiet_hours_action", { options: [["defer", "defer (schedule for when the window opens)"], ["reject", "reject (453 QUIET_HOURS)"]], value: v0.quiet_hours_action }),
      field("Conversation window on", "conversation_window_enabled", { type: "checkbox", value: v0.conversation_window_enabled, hint: "Allow replies without recorded consent after the contact texted." }),
      field("Conversation window (hours)", "conversation_window_hours", { type: "number", value: v0.conversation_window_hours }),
      field("Double opt-in expiry (hours)", "double_opt_in_expiry_hours", { type: "number", value: v0.double_opt_in_expiry_hours }),
      field("HELP reply", "help_reply", { textarea: true, rows: 2, value: v0.help_reply || "", hint: "Empty: the campaign's help message, else ours." }),
      field("Opt-out reply", "opt_out_reply", { textarea: true, rows: 2, value: v0.opt_out_reply || "" }),
      field("Opt-in reply", "opt_in_reply", { textarea: true, rows: 2, value: v0.opt_in_reply || "" }),
    ], "Save compliance settings", async (f) => {
      const v = values(f);
      const r = await api("PATCH", "/v1/compliance/settings", {
        quiet_hours_enabled: v.quiet_hours_enabled, quiet_hours_action: v.quiet_hours_action,
        conversation_window_enabled: v.conversation_window_enabled, conversation_window_hours: Number(v.conversation_window_hours),
        double_opt_in_expiry_hours: Number(v.double_opt_in_expiry_hours),
        help_reply: v.help_reply || null, opt_out_reply: v.opt_out_reply || null, opt_in_reply: v.opt_in_reply || null,
      });
      if (!r.ok) return showError(f, r.error);
      toast("Compliance settings saved.");
    }));
  } else settingsBox.replaceChildren(errorBox(s.error));

  const doi = form([
    field("From number", "phone_number_id", { options: nums.length ? nums.map((n) => [n.id, n.phone_number]) : [["", "No number yet"]] }),
    field("Contact number", "contact_number", { type: "tel", placeholder: "+15551234567", required: true }),
    field("Confirmation text", "confirmation_text", { textarea: true, rows: 2, value: "Reply YES to confirm you want these messages. Reply STOP to opt out, HELP for help." }),
  ], "Send confirmation", async (f) => {
    const r = await api("POST", "/v1/consent/double-opt-in", values(f));
    if (!r.ok) return showError(f, r.error);
    toast(`Confirmation sent to ${r.data.contact_number}; a reply of YES before ${new Date(r.data.expires_at).toLocaleString()} grants consent.`);
    await loadLedger();
  });

  const record = form([
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
    await loadLedger();
  });

  const panel = h("div", { id: "evidence-panel", class: "evidence", tabindex: "-1", hidden: true });
  async function evidence(c) {
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

  const statusSel = field("Consent status", "status", { options: [["", "All contacts"], ["granted", "granted"], ["opted_out", "opted out"], ["none", "none"]] });
  statusSel.querySelector("select").addEventListener("change", () => loadLedger());
  function consentTable(caption, rows, empty) {
    return table(caption, [
      ["Contact", (c) => c.contact_number], ["Status", (c) => badge(c.status)],
      ["Method", (c) => (c.consent && c.consent.method) || "—"],
      ["Since", (c) => when((c.consent && c.consent.granted_at) || c.opted_out_at || c.updated_at)],
      ["Evidence", (c) => h("button", { type: "button", class: "secondary small", "aria-label": `Evidence and history of ${c.contact_number}`,
        "aria-controls": "evidence-panel", onclick: () => evidence(c) }, "Evidence")],
      ["", (c) => c.status === "granted" ? h("button", { type: "button", class: "danger small", "aria-label": `Revoke consent of ${c.contact_number}`, onclick: async () => {
        if (!await confirmDialog(`Revoke consent of ${c.contact_number}?`, "The contact is opted out; messages still queued for it are canceled.", "Revoke consent")) return;
        const r = await api("DELETE", `/v1/consent/${encodeURIComponent(c.contact_number)}`);
        if (!r.ok) return toast(r.error.message, "error");
        toast(`${c.contact_number} opted out.`);
        await loadLedger();
      } }, "Revoke") : ""],
    ], rows, empty);
  }
  async function loadLedger() {
    const st = statusSel.querySelector("select").value;
    const [r, o] = await Promise.all([api("GET", `/v1/consent?limit=100${st ? "&status=" + st : ""}`), api("GET", "/v1/consent?limit=100&status=opted_out")]);
    ledger.replaceChildren(r.ok ? consentTable("Consent ledger", r.data, "No contact on the ledger yet.") : errorBox(r.error));
    optouts.replaceChildren(o.ok ? table("Opt-outs", [
      ["Contact", (c) => c.contact_number], ["Opted out", (c) => when(c.opted_out_at)], ["Source", (c) => c.opt_out_source || "—"],
      ["Rule", (c) => c.opt_out_rule || "—"],
    ], o.data, "Nobody has opted out.") : errorBox(o.error));
  }
  const outcomeSel = field("Outcome", "outcome", { options: [["", "All outcomes"], "allow", "deny", "defer"] });
  outcomeSel.querySelector("select").addEventListener("change", () => loadAudit());
  async function loadAudit() {
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
  await Promise.all([loadLedger(), loadAudit()]);
  render(
    section("Double opt-in", h("p", {}, "Texts the contact a confirmation; a reply of YES grants consent, with the exchange as evidence."), doi),
    section("Consent records", h("div", { class: "toolbar" }, statusSel,
      h("button", { type: "button", class: "secondary", onclick: () => download("/v1/consent/export?format=jsonl", "consent-ledger.jsonl") }, "Export JSONL"),
      h("button", { type: "button", class: "secondary", onclick: () => download("/v1/consent/export?format=csv", "consent-ledger.csv") }, "Export CSV")),
      ledger, panel, h("details", {}, h("summary", {}, "Record a consent you collected"), record)),
    section("Opt-outs", optouts),
    section("Quiet hours and replies", settingsBox),
    section("Decision audit", h("p", {}, "Every allow, deny and defer the gate recorded, at acceptance and again before the carrier."),
      h("div", { class: "toolbar" }, outcomeSel,
        h("button", { type: "button", class: "secondary", onclick: () => download("/v1/compliance/decisions/export?format=csv", "gate-decisions.csv") }, "Export decisions (CSV)")),
      audit));
}

// ------------------------------------------------------------------------------------------ billing

async function billingPage() {
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

async function settingsPage() {
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

// --------------------------------------------------------------------------------------------- boot

const PAGES = {
  login: loginPage, signup: signupPage, overview: overviewPage, keys: keysPage, numbers: numbersPage,
  inbound: inboundPage, messages: messagesPage, message: messagePage, tendlc: tendlcPage,
  compliance: compliancePage, billing: billingPage, settings: settingsPage,
};

document.getElementById("logout")?.addEventListener("click", async () => {
  await api("DELETE", "/v1/sessions/current");
  location.href = "/login";
});

const fn = PAGES[main?.dataset.page];
if (fn) {
  Promise.resolve(fn()).catch((e) => {
    if (e && e.name === "AbortError") return;
    render(h("p", { class: "form-error", role: "alert" }, `This page failed to load: ${e}`));
  });
}
