// AgentMessage dashboard: Inbound: texts received, new ones live (a long poll).

import { api, field, h, myNumbers, render, when } from "./lib.js";

const row = (m, fresh) => h("tr", { "data-id": m.id, class: fresh ? "new" : null },
  h("td", {}, when(m.received_at)), h("td", {}, m.from), h("td", {}, m.to), h("td", {}, m.body));

const textsTable = (body) => h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Texts received" },
  h("table", { id: "inbound-table" }, h("caption", { class: "sr-only" }, "Texts received, newest first"),
    h("thead", {}, h("tr", {}, ["Received", "From", "To", "Text"].map((c) => h("th", { scope: "col" }, c)))), body));

export async function inboundPage() {
  const nums = await myNumbers();
  const seen = new Map();
  const body = h("tbody");
  const live = h("p", { class: "live", id: "live-state" }, "Listening for new texts…");
  const announce = h("p", { class: "sr-only", "aria-live": "polite", id: "inbound-announce" });
  const filter = field("Number", "to", { options: [["", "All numbers"], ...nums.map((n) => [n.phone_number, n.phone_number])] });
  let newest = null;
  let controller = null;

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
  render(h("div", { class: "toolbar" }, filter, live), announce, textsTable(body), empty);
  start();
}
