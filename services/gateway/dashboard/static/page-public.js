// AgentMessage dashboard: log in and sign up.

import { api, field, form, h, render, showError, values } from "./lib.js";

function safeNext() {
  const n = new URLSearchParams(location.search).get("next") || "/";
  return n.startsWith("/") && !n.startsWith("//") ? n : "/";
}

export function loginPage() {
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

export function signupPage() {
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
