// AgentMessage dashboard: the /v1 client (session cookie + X-CSRF-Token) and the DOM helpers every page shares.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
export const main = document.getElementById("main");
const app = document.getElementById("app");

// ---------------------------------------------------------------------------------------------- API

export async function api(method, path, body, { signal } = {}) {
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
export async function apiHas(method, path) {
  if (!openapi) {
    try { openapi = await (await fetch("/v1/openapi.json")).json(); } catch { openapi = { paths: {} }; }
  }
  return !!(openapi.paths[path] && openapi.paths[path][method]);
}

export async function download(path, filename) {
  const r = await fetch(path, { headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
  if (!r.ok) { toast(`Export failed (${r.status}).`, "error"); return; }
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: filename });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  toast(`Downloaded ${filename}.`);
}

// ---------------------------------------------------------------------------------------------- DOM

export function h(tag, attrs, ...kids) {
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

export function section(title, ...kids) {
  const id = "s-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...kids);
}

let uid = 0;
export function field(label, name, opts = {}) {
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

export function form(fields, submitLabel, onsubmit, { extra, cls } = {}) {
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

export function values(f) {
  const out = {};
  for (const el of f.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else out[el.name] = el.value.trim();
  }
  return out;
}

export function clearErrors(f) {
  f.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  f.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
  const fe = f.querySelector(".form-error");
  if (fe) { fe.hidden = true; fe.textContent = ""; }
}

// Puts an API error next to the field its details name (details.field, or details.fields{name: message}).
export function showError(f, error) {
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

export function table(caption, cols, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty || "Nothing yet.");
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h("table", {},
      h("caption", { class: "sr-only" }, caption),
      h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c[0])))),
      h("tbody", {}, rows.map((r) => h("tr", { "data-id": r.id || null }, cols.map((c) => h("td", {}, c[1](r))))))));
}

export function when(s) {
  if (!s) return "—";
  const d = new Date(s);
  return h("time", { datetime: s, title: s }, d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }));
}

export function badge(status) {
  return h("span", { class: `badge s-${String(status).replace(/[^a-z_]/gi, "")}` }, String(status).replace(/_/g, " "));
}

// whole cents as dollars and cents; a fraction of a cent (a segment's price) with all four places
export function money(s) {
  const n = Number(s);
  return (n < 0 ? "−$" : "$") + (Math.round(n * 100) === n * 100 ? Math.abs(n).toFixed(2) : Math.abs(n).toFixed(4));
}

export function toast(msg, kind = "ok") {
  const t = document.getElementById("toast");
  t.className = kind;
  t.textContent = msg;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ""; t.className = ""; }, 6000);
}

export function errorBox(error) {
  return h("p", { class: "form-error", role: "alert" }, `${error.message} (${error.code})`);
}

export function confirmDialog(title, text, action) {
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

export async function copy(text, label) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h("textarea", { "aria-hidden": "true", class: "sr-only" });
    ta.value = text;
    document.body.append(ta); ta.select(); document.execCommand("copy"); ta.remove();
  }
  toast(`${label} copied to the clipboard.`);
}

export function shortId(id) { return String(id).slice(0, 8); }

let numbersCache = null;
export async function myNumbers() {
  if (!numbersCache) {
    const r = await api("GET", "/v1/phone-numbers?limit=100");
    numbersCache = r.ok ? r.data : [];
  }
  return numbersCache;
}

// after an order, a release or a campaign change: the next myNumbers() asks the API again
export function forgetNumbers() { numbersCache = null; }

export function render(...kids) {
  app.replaceChildren(...kids.filter((k) => k !== null && k !== undefined && k !== false));
  app.removeAttribute("aria-busy");
}
