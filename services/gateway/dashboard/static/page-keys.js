// AgentMessage dashboard: Settings, API keys: create (the secret shown once), list, revoke.

import { api, confirmDialog, copy, errorBox, field, form, h, render, section, showError, table, toast, values, when } from "./lib.js";

export async function keysPage() {
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
