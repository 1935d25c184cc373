// AgentMessage dashboard: 10DLC: brand and campaign forms, review status, resubmit.

import { api, badge, errorBox, field, forgetNumbers, form, h, render, section, showError, table, toast, values, when } from "./lib.js";

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

const BRAND_FIELDS = () => [
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
];

function brandForm(done) {
  return form(BRAND_FIELDS(), "Register brand", async (f) => {
    const v = values(f);
    const b = {};
    for (const [k, val] of Object.entries(v)) if (val !== "") b[k] = val;
    const r = await api("POST", "/v1/brands", b);
    if (!r.ok) return showError(f, r.error);
    toast(`Brand ${r.data.display_name} registered: identity ${r.data.identity_status}.`);
    f.reset();
    await done();
  }, { cls: "grid" });
}

function campaignForm(brandSel, done) {
  return form([brandSel, field("Use case", "use_case", { options: USE_CASES }), ...campaignFields()], "Register campaign", async (f) => {
    const v = values(f);
    const r = await api("POST", "/v1/campaigns", { brand_id: v.brand_id, use_case: v.use_case, ...campaignBody(v) });
    if (!r.ok) return showError(f, r.error);
    toast("Campaign submitted for carrier review.");
    forgetNumbers();
    f.reset();
    await done();
  });
}

function campaignCard(c, brands, reload) {
  const brand = brands.find((b) => b.id === c.brand_id);
  const resubmit = c.status === "rejected" ? h("details", {}, h("summary", {}, "Edit and resubmit"),
    form(campaignFields(c), "Resubmit", async (f) => {
      const r = await api("POST", `/v1/campaigns/${c.id}/resubmit`, campaignBody(values(f)));
      if (!r.ok) return showError(f, r.error);
      toast("Campaign resubmitted for review.");
      await reload();
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

const brandsTable = (brands) => table("Brands", [
  ["Brand", (x) => x.display_name], ["Entity", (x) => x.entity_type.replace(/_/g, " ")], ["Identity", (x) => badge(x.identity_status)],
  ["Vetting score", (x) => String(x.vetting_score)], ["Throughput", (x) => `${x.throughput_mpm}/min`], ["Registered", (x) => when(x.created_at)],
], brands, "No brand yet: register yours first.");

export async function tendlcPage() {
  const brandsBox = h("div");
  const campaignsBox = h("div");
  const brandSel = h("div");
  let timer = null;
  let first = true;
  const brandDetails = h("details", {}, h("summary", {}, "Register a brand"), brandForm(async () => { brandDetails.open = false; await load(); }));
  const campaignDetails = h("details", {}, h("summary", {}, "Register a campaign"), campaignForm(brandSel, async () => { campaignDetails.open = false; await load(); }));

  async function load() {
    const [b, c] = await Promise.all([api("GET", "/v1/brands?limit=100"), api("GET", "/v1/campaigns?limit=100")]);
    const brands = b.ok ? b.data : [];
    brandsBox.replaceChildren(b.ok ? brandsTable(brands) : errorBox(b.error));
    brandSel.replaceChildren(brands.length ? field("Brand", "brand_id", { options: brands.map((x) => [x.id, x.display_name]) }) : h("p", { class: "empty" }, "Register a brand first."));
    const campaigns = c.ok ? c.data : [];
    campaignsBox.replaceChildren(...(c.ok ? (campaigns.length ? campaigns.map((x) => campaignCard(x, brands, load)) : [h("p", { class: "empty" }, "No campaign yet.")]) : [errorBox(c.error)]));
    if (first) {  // open the forms that are the next step; later loads leave them as the user set them
      brandDetails.open = !brands.length;
      campaignDetails.open = !!brands.length && !campaigns.length;
      first = false;
    } else if (brands.length && !campaigns.length) campaignDetails.open = true;
    clearTimeout(timer);
    if (campaigns.some((x) => x.status === "pending_review")) timer = setTimeout(load, 2000);
  }
  await load();
  render(
    section("Brands", brandsBox, brandDetails),
    section("Campaigns", h("p", {}, "A campaign goes to carrier review; sending from its numbers unlocks when it is approved. This page updates itself while a review is pending."),
      h("div", { "aria-live": "polite" }, campaignsBox), campaignDetails));
}
