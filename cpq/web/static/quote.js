/* The quote workspace: GET /api/v1/quotes/{number} and its lifecycle actions (submit, approve,
   reject, send, accept, decline), edits through PATCH, revisions and diffs, the PDF, the order. */
"use strict";

(() => {
  const {api, el, money, problemText, toast, role, isBuyer} = CPQ;
  const root = document.getElementById("workspace");
  const number = root.dataset.number;
  const base = `/api/v1/quotes/${encodeURIComponent(number)}`;
  const $ = (id) => document.getElementById(id);
  const APPROVER_LEVEL = {sales: 0, sales_manager: 1, pricing_admin: 2, admin: 3};
  const DONE = {submit: "submitted", approve: "approved", reject: "rejected", send: "sent", accept: "accepted",
    decline: "declined"};
  // one key per page view: accepting twice (a double click, a retry) makes one acceptance and one order
  const acceptKey = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
  let quote = null;
  let etag = null;
  let orderTimer = null;

  function showProblem(error) {
    const box = $("problem");
    box.textContent = error ? problemText(error) : "";
    box.hidden = !error;
  }

  async function act(method, path, body, headers) {
    showProblem(null);
    try {
      const answer = await api(method, path, body, {"If-Match": etag, ...(headers || {})});
      return answer;
    } catch (error) {
      showProblem(error);
      throw error;
    }
  }

  /** A line's id: its own, or the one the server numbered it with when pricing. */
  function lineId(index) {
    const line = quote.lines[index];
    return line.id || (((quote.priced || {}).lines || [])[index] || {}).id || String(index + 1);
  }

  // states no change can leave (cpq/quotes/lifecycle.py FINAL); a sent quote changes into revision N+1.
  // Only what the page offers: the server decides (PATCH answers 409 otherwise).
  const FINAL = ["accepted", "declined", "superseded", "ordering", "ordered", "order_failed"];

  function canEdit() {
    return !isBuyer && role !== "order_manager" && !FINAL.includes(quote.state);
  }

  function renderLines() {
    const currency = quote.currency;
    const priced = quote.priced || {lines: []};
    const edit = canEdit();
    const groups = new Map();
    quote.lines.forEach((raw, index) => {
      const pricedLine = priced.lines[index] || {items: []};  // priced in the order of the lines
      const line = {...raw, id: lineId(index)};
      const group = line.group || pricedLine.group || "";
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push([line, pricedLine]);
    });
    const sections = [];
    for (const [group, lines] of groups) {
      const items = lines.map(([line, pricedLine]) => {
        const qtyId = `line-qty-${line.id}`;
        const discountId = `line-discount-${line.id}`;
        return el("div", {class: "bundle card", id: `line-${line.id}`},
          el("h3", {}, `Line ${line.id}: ${line.product}`,
            edit ? [el("label", {for: qtyId}, "Quantity"),
              el("input", {type: "number", id: qtyId, class: "qty", min: 1, value: line.quantity, dataset: {line: line.id}}),
              el("label", {for: discountId}, "Line discount"),
              el("input", {type: "text", id: discountId, size: 6, value: line.discount || "", placeholder: "e.g. 5%", dataset: {line: line.id}}),
              el("a", {href: `/configure/${encodeURIComponent(line.product)}?quote=${encodeURIComponent(number)}&line=${encodeURIComponent(line.id)}`}, "Re-configure")]
              : el("span", {class: "muted"}, `× ${line.quantity}`)),
          el("div", {class: "table-scroll"}, el("table", {},
            el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "Item"), el("th", {scope: "col", class: "num"}, "Qty"),
              el("th", {scope: "col", class: "num"}, "List"), el("th", {scope: "col", class: "num"}, "Net"))),
            el("tbody", {}, pricedLine.items.map((item) => el("tr", {},
              el("td", {}, item.name, " ", el("small", {class: "muted"}, item.sku)),
              el("td", {class: "num"}, item.quantity), el("td", {class: "num"}, money(item.list, currency)),
              el("td", {class: "num"}, money(item.total, currency))))))));
      });
      sections.push(group && groups.size > 1 ? el("section", {}, el("h3", {}, `Group ${group}`), items) : items);
    }
    $("lines").replaceChildren(...sections.flat());
    $("edit-bar").hidden = !edit;
    $("quote-discount").value = quote.discount || "";
  }

  function renderTotals() {
    const t = (quote.priced || {}).totals || {};
    const c = quote.currency;
    const rows = [["List", money(t.list, c)], ["Net", money(t.net, c)], ["Discount", t.discount_percent || "—"],
      ["Tax", money(t.tax_total, c)], ["Total", money(t.grand_total, c)]];
    if (t.margin_percent) rows.push(["Margin", t.margin_percent]);
    $("totals").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  function renderApprovals() {
    const list = $("approvals");
    const records = quote.approvals || [];
    if (records.length) {
      list.replaceChildren(...records.map((a) => el("li", {dataset: {status: a.status}},
        el("strong", {}, a.status.replace(/_/g, " ")), ` — ${a.role.replace(/_/g, " ")}: ${a.reason}`,
        a.comment ? el("em", {}, ` “${a.comment}”`) : null)));
      return;
    }
    const needed = (quote.priced || {}).approvals || [];
    list.replaceChildren(...(needed.length
      ? needed.map((a) => el("li", {}, `needs ${a.role.replace(/_/g, " ")}: ${a.reason}`))
      : [el("li", {}, "No approval needed.")]));
  }

  function myPendingLevel() {
    const pending = (quote.approvals || []).filter((a) => a.status === "pending");
    if (!pending.length) return false;
    const lowest = Math.min(...pending.map((a) => APPROVER_LEVEL[a.role] ?? 0));
    return pending.some((a) => (APPROVER_LEVEL[a.role] ?? 0) === lowest && (a.role === role || role === "admin"));
  }

  function button(label, onclick, primary) {
    return el("button", {type: "button", class: primary ? "primary" : null, onclick}, label);
  }

  function renderActions() {
    const allowed = quote.allowed_actions;
    const buttons = [];
    if (allowed.includes("submit") && role !== "partner") {
      buttons.push(button("Submit for approval", () => lifecycle("submit"), true));
    }
    if (allowed.includes("send") && !isBuyer) buttons.push(button("Send to the buyer", () => lifecycle("send"), true));
    buttons.push(el("a", {class: "button", href: `${base}.pdf`}, "Download PDF"));
    $("actions").replaceChildren(...buttons);
    $("decide-box").hidden = !(allowed.includes("approve") && myPendingLevel());
    const acceptable = isBuyer && allowed.includes("accept");
    $("accept-box").hidden = !acceptable;
    if (acceptable) $("accept-hash").textContent = quote.document_hash || "";
  }

  async function renderOrder() {
    const section = $("order-section");
    if (!["accepted", "ordering", "ordered", "order_failed"].includes(quote.state)) { section.hidden = true; return; }
    section.hidden = false;
    try {
      const {data} = await api("GET", `${base}/orders`);
      const orders = data.orders || [];
      const text = orders.length
        ? orders.map((o) => `Order ${o.order_id || o.number || o.id}: ${o.status || quote.state}`).join("; ")
        : `Order: ${quote.state.replace(/_/g, " ")}`;
      $("order-status").textContent = text + (data.failure ? ` — ${data.failure}` : "");
    } catch (error) {
      $("order-status").textContent = `Order: ${quote.state.replace(/_/g, " ")}`;
    }
    clearTimeout(orderTimer);
    if (quote.state === "accepted" || quote.state === "ordering") orderTimer = setTimeout(load, 1000);
  }

  async function renderRevisions() {
    try {
      const {data} = await api("GET", `${base}/revisions`);
      $("revisions").replaceChildren(...data.items.map((r) => el("li", {},
        `Revision ${r.revision}: ${r.state}, total ${money(r.grand_total, quote.currency)}`,
        r.document_hash ? el("small", {class: "muted"}, ` hash ${r.document_hash.slice(0, 12)}…`) : null, " ",
        el("a", {href: `${base}/revisions/${r.revision}.pdf`}, "PDF"), " ",
        r.revision > 1 ? button(`What changed since ${r.revision - 1}`, () => showDiff(r.revision)) : null)));
    } catch (error) {
      toast(problemText(error));
    }
  }

  const fromTo = (v) => `${v.from ?? "—"} → ${v.to ?? "—"}`;

  function changeText(change) {
    const parts = [];
    for (const [key, value] of Object.entries(change.changes)) {
      if (key === "options") {
        if (value.added.length) parts.push(`options added: ${value.added.join(", ")}`);
        if (value.removed.length) parts.push(`options removed: ${value.removed.join(", ")}`);
        for (const [id, q] of Object.entries(value.quantity)) parts.push(`${id} quantity ${fromTo(q)}`);
      } else {
        parts.push(`${key} ${fromTo(value)}`);
      }
    }
    return `Line ${change.line}: ${parts.join("; ")}`;
  }

  function diffList(title, items) {
    if (!items || !items.length) return null;
    return el("div", {}, el("h4", {}, title), el("ul", {}, items.map((i) => el("li", {}, i))));
  }

  async function showDiff(n) {
    try {
      const {data} = await api("GET", `${base}/revisions/${n}/diff`);
      const lineText = (l) => `Line ${l.id || "?"}: ${l.product} × ${l.quantity || 1}`;
      $("diff").replaceChildren(el("div", {class: "diff", role: "region", "aria-label": `Changes in revision ${n}`},
        el("h3", {}, `Revision ${data.from} → ${data.to}`),
        diffList("Lines added", (data.added || []).map(lineText)),
        diffList("Lines removed", (data.removed || []).map(lineText)),
        diffList("Lines changed", (data.changed || []).map(changeText)),
        diffList("Totals", Object.entries(data.totals || {}).map(([k, v]) => `${k.replace(/_/g, " ")}: ${fromTo(v)}`)),
        data.ruleset ? el("p", {}, `Rules changed: ${data.ruleset.from.slice(0, 12)} → ${data.ruleset.to.slice(0, 12)}`) : null));
    } catch (error) {
      toast(problemText(error));
    }
  }

  function render() {
    $("state").textContent = quote.state.replace(/_/g, " ");
    root.dataset.state = quote.state;
    $("summary").textContent = `Account ${quote.account_id} · ${quote.currency} · revision ${quote.revision}`
      + (quote.valid_until ? ` · valid until ${quote.valid_until}` : "") + (quote.pricebook ? ` · pricebook ${quote.pricebook}` : "");
    renderLines();
    renderTotals();
    renderApprovals();
    renderActions();
    renderOrder();
    renderRevisions();
  }

  async function load() {
    try {
      const answer = await api("GET", base);
      quote = answer.data;
      etag = answer.etag;
      render();
    } catch (error) {
      showProblem(error);
    }
  }

  async function lifecycle(action, body) {
    try {
      const headers = action === "accept" ? {"Idempotency-Key": acceptKey} : {};
      const answer = await act("POST", `${base}/${action}`, body || {}, headers);
      quote = answer.data;
      etag = answer.etag;
      render();
      toast(`Quote ${DONE[action] || action}.`);
    } catch (_) { /* shown in the problem box */ }
  }

  async function saveLines() {
    const lines = quote.lines.map((line, index) => {
      const qty = parseInt($(`line-qty-${lineId(index)}`).value, 10);
      const discount = $(`line-discount-${lineId(index)}`).value.trim();
      const out = {...line, quantity: Number.isFinite(qty) && qty > 0 ? qty : line.quantity};
      if (discount) out.discount = discount; else delete out.discount;
      return out;
    });
    const discount = $("quote-discount").value.trim();
    try {
      const answer = await act("PATCH", base, {lines, discount: discount || null});
      quote = answer.data;
      etag = answer.etag;
      render();
      const needed = (quote.priced.approvals || []).filter((a) => a.kind === "discount_limit");
      $("discount-limit").textContent = needed.length ? needed.map((a) => a.reason).join("; ") : "Within your discount limit.";
      toast("Saved: re-validated and re-priced.");
    } catch (_) { /* shown */ }
  }

  $("save-lines").addEventListener("click", saveLines);
  $("approve").addEventListener("click", () => lifecycle("approve", {comment: $("decide-comment").value || "approved"}));
  $("reject").addEventListener("click", () => lifecycle("reject", {comment: $("decide-comment").value}));
  $("accept").addEventListener("click", () => lifecycle("accept", {name: $("accept-name").value, document_hash: quote.document_hash}));
  $("decline").addEventListener("click", () => lifecycle("decline"));
  load();
})();
