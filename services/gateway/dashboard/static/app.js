// AgentMessage dashboard: every page is drawn from the public /v1 API (same origin, session cookie +
// X-CSRF-Token header). No framework, no build step, nothing loaded from elsewhere: an ES module a page
// (page-*.js), the helpers they share (lib.js), and this one, which runs the page the server names.

import { api, h, main, render } from "./lib.js";
import { billingPage, settingsPage } from "./page-account.js";
import { compliancePage } from "./page-compliance.js";
import { inboundPage } from "./page-inbound.js";
import { keysPage } from "./page-keys.js";
import { messagePage, messagesPage } from "./page-messages.js";
import { numbersPage } from "./page-numbers.js";
import { overviewPage } from "./page-overview.js";
import { loginPage, signupPage } from "./page-public.js";
import { tendlcPage } from "./page-tendlc.js";


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
