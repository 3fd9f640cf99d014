/* The quote list: GET /api/v1/quotes for the accounts the signed-in user may see. */
"use strict";

(() => {
  const {api, el, problemText, toast} = CPQ;
  const body = document.querySelector("#quote-list tbody");

  async function load() {
    const state = document.getElementById("state-filter").value;
    try {
      const {data} = await api("GET", `/api/v1/quotes?limit=100${state ? `&state=${state}` : ""}`);
      body.replaceChildren(...data.items.map((q) => el("tr", {},
        el("td", {}, el("a", {href: `/quotes/${encodeURIComponent(q.number)}`}, q.number)),
        el("td", {}, q.account_id), el("td", {}, q.state.replace(/_/g, " ")), el("td", {}, q.revision),
        el("td", {}, (q.updated_at || "").slice(0, 16).replace("T", " ")))));
      if (!data.items.length) body.append(el("tr", {}, el("td", {colspan: 5}, "No quotes yet: configure a product in the catalog.")));
    } catch (error) {
      toast(problemText(error));
    }
  }

  document.getElementById("state-filter").addEventListener("change", load);
  load();
})();
