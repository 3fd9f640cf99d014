/* The configurator page: every click sends the selection to POST /api/v1/products/{id}/configure
   (states, reasons, conflict + repairs, alerts) and /complete (the full configuration the defaults
   give), then prices it with POST /api/v1/price. Nothing is decided here: the server answers. */
"use strict";

(() => {
  const {api, el, money, problemText, toast, isBuyer} = CPQ;
  const root = document.getElementById("configurator");
  const productId = root.dataset.product;
  const editLine = root.dataset.line || null;
  const editQuote = root.dataset.quote || null;
  const $ = (id) => document.getElementById(id);

  const state = {
    product: null,          // catalog description
    names: {},              // option id → name
    picks: new Map(),       // option id → quantity (null: any)
    excluded: new Set(),
    components: {},         // component id → count (only those the buyer set)
    componentOptions: {},   // component id → [{id, quantity}] (their default configuration)
    book: null,             // the account's pricebook, as the last /price answer resolved it
    answer: null,           // last configure answer
    configuration: null,    // the full configuration (complete) when consistent
    accounts: [],
    forced: new Set(),      // blocked options the buyer chose anyway
    hidden: new Set(),      // options a filter rule does not offer in this context (stays hidden in a conflict)
    seq: 0,
    done: 0,
  };
  window.cpqTimings = [];

  const name = (id) => state.names[id] || id;
  const account = () => state.accounts.find((a) => a.id === $("account").value) || state.accounts[0];

  function selectionBody() {
    const options = {};
    for (const [id, qty] of state.picks) options[id] = qty === null ? true : qty;
    const body = {options, excluded: [...state.excluded], components: {...state.components}};
    const acc = account();
    if (acc) body.account = {id: acc.id};
    return body;
  }

  function featureOf(optionId) {
    return state.product.features.find((f) => f.options.some((o) => o.id === optionId));
  }

  // ------------------------------------------------------------------ changing the selection

  function pick(optionId, quantity) {
    const feature = featureOf(optionId);
    if (feature && feature.max === 1) {
      for (const o of feature.options) if (o.id !== optionId) state.picks.delete(o.id);
    }
    if (feature) for (const o of feature.options) if (o.id === optionId || feature.max === 1) state.excluded.delete(o.id);
    state.picks.set(optionId, quantity === undefined ? (state.picks.get(optionId) ?? null) : quantity);
  }

  function unpick(optionId) {
    state.picks.delete(optionId);
    state.forced.delete(optionId);
    state.excluded.add(optionId);
  }

  function chooseNone(feature) {
    for (const o of feature.options) {
      state.picks.delete(o.id);
      state.excluded.add(o.id);
    }
  }

  function applyRepair(repair) {
    for (const action of repair.actions) {
      if (action.action === "remove") {
        if (action.option) unpick(action.option);
        if (action.component) delete state.components[action.component];
      } else if (action.action === "change") {
        state.picks.delete(action.option);
        pick(action.to, null);
      } else if (action.action === "quantity") {
        if (action.option) pick(action.option, action.to);
        if (action.component) state.components[action.component] = action.to;
      } else if (action.action === "allow") {
        state.excluded.delete(action.option);
      }
    }
    state.forced.clear();
    const first = repair.actions[0] || {};
    state.focusAfter = `opt-${first.to && first.action === "change" ? first.to : first.option}`;
    refresh();
  }

  // ------------------------------------------------------------------ describing answers

  function choiceText(choice) {
    if (choice.option) return choice.quantity != null ? `${name(choice.option)} × ${choice.quantity}` : name(choice.option);
    if (choice.excluded) return `leaving out ${name(choice.excluded)}`;
    if (choice.component) return `${choice.component} × ${choice.quantity}`;
    return Object.values(choice).join(" ");
  }

  function reasonText(reasons) {
    return (reasons || []).map((r) => {
      const rules = r.rules.map((rule) => rule.message).join(" ");
      const because = r.choices.length ? ` Because you chose: ${r.choices.map(choiceText).join(", ")}.` : "";
      const context = r.context.length ? ` (${r.context.join(", ")})` : "";
      return rules + because + context;
    }).join(" ");
  }

  function actionText(action) {
    if (action.action === "remove") return `Remove ${action.option ? name(action.option) : action.component}`;
    if (action.action === "change") return `Change ${name(action.option)} to ${name(action.to)}`;
    if (action.action === "quantity") return `Set ${action.option ? name(action.option) : action.component} to ${action.to}`;
    if (action.action === "allow") return `Allow ${name(action.option)} again`;
    return JSON.stringify(action);
  }

  /** Whether a blocked option in a single-choice feature is only blocked by that feature's own
      "choose one" (another of its options is chosen): choosing it simply replaces that one. */
  function swapOnly(feature, option) {
    if (feature.max !== 1 || !option.reasons || !option.reasons.length) return false;
    return option.reasons.some((r) => r.rules.every((rule) => rule.kind === "feature" && rule.id === feature.id)
      && r.choices.every((c) => c.option && feature.options.some((o) => o.id === c.option)));
  }

  // ------------------------------------------------------------------ rendering

  function optionState(id) {
    const answer = state.answer;
    if (!answer) return null;
    for (const f of answer.features) for (const o of f.options) if (o.id === id) return o;
    return null;
  }

  function renderFeature(feature) {
    const single = feature.max === 1;
    const answerFeature = (state.answer.features || []).find((f) => f.id === feature.id) || {options: []};
    const quantityFeature = feature.quantity;
    const hint = single ? (feature.min ? "choose one" : "optional, choose one")
      : `choose ${feature.min ? `${feature.min} to ` : "up to "}${feature.max}`;
    const fieldset = el("fieldset", {class: "feature", id: `feature-${feature.id}`},
      el("legend", {}, feature.label, " ", el("small", {class: "muted"}, `(${hint})`)));
    const configured = state.configuration ? state.configuration.options : {};
    const anyChecked = feature.options.some((o) => state.picks.has(o.id) || (configured[o.id] || 0) > 0);
    if (single && feature.min === 0) {
      const id = `none-${feature.id}`;
      fieldset.append(el("div", {class: "option"},
        el("input", {type: "radio", id, name: `f-${feature.id}`, checked: !anyChecked,
          onchange: () => { chooseNone(feature); refresh(); }}),
        el("label", {for: id}, "None")));
    }
    for (const option of feature.options) {
      const answerOption = answerFeature.options.find((o) => o.id === option.id) || optionState(option.id) || {};
      if (answerOption.hidden || state.hidden.has(option.id)) continue;  // a filter rule does not offer it here
      const id = `opt-${option.id}`;
      const whyId = `why-${option.id}`;
      const picked = state.picks.has(option.id);
      const auto = !picked && (configured[option.id] || 0) > 0;
      const blocked = answerOption.state === "blocked" && !picked && !swapOnly(feature, answerOption);
      const required = answerOption.state === "required";
      const why = blocked || required ? reasonText(answerOption.reasons) : "";
      const input = el("input", {
        type: single ? "radio" : "checkbox", id, name: single ? `f-${feature.id}` : id, value: option.id,
        checked: picked || auto, "aria-disabled": blocked ? "true" : null,
        "aria-describedby": why ? whyId : null, dataset: {option: option.id, state: answerOption.state || ""},
      });
      input.addEventListener("click", (event) => {
        if (blocked && !state.forced.has(option.id)) {
          event.preventDefault();
          showWhy(option.id);
        }
      });
      input.addEventListener("change", () => {
        if (input.checked) pick(option.id);
        else unpick(option.id);
        refresh();
      });
      const row = el("div", {class: `option${blocked ? " blocked" : ""}${auto ? " auto" : ""}`, id: `row-${option.id}`},
        input,
        el("label", {for: id}, option.name, " ", el("small", {class: "muted"}, option.id),
          auto ? el("span", {class: "badge"}, required ? "required" : "default") : null,
          required && picked ? el("span", {class: "badge"}, "required") : null));
      const range = answerOption.quantity || option.quantity;
      if (quantityFeature || (option.quantity && option.quantity.max > 1)) {
        const qtyId = `qty-${option.id}`;
        const current = picked ? state.picks.get(option.id) : configured[option.id];
        row.append(el("label", {for: qtyId, class: "sr-only"}, `Quantity of ${option.name}`),
          el("input", {type: "number", id: qtyId, class: "qty", min: 0, max: (range && range.max) || 1000,
            value: current || "", placeholder: "qty", inputmode: "numeric", "aria-label": null,
            onchange: (event) => {
              const n = parseInt(event.target.value, 10);
              if (Number.isFinite(n) && n > 0) pick(option.id, n);
              else unpick(option.id);
              refresh();
            }}));
      }
      if (why) row.append(el("span", {class: "why", role: "tooltip", id: whyId}, why));
      row.append(el("div", {class: "why-box", id: `whybox-${option.id}`, hidden: true}));
      fieldset.append(row);
    }
    return fieldset;
  }

  function renderComponents() {
    const comps = state.product.components;
    if (!comps.length) return null;
    const fieldset = el("fieldset", {class: "feature", id: "components"}, el("legend", {}, "Bundle contents"));
    const answer = state.answer.components || [];
    const configured = state.configuration ? state.configuration.components : {};
    for (const c of comps) {
      const range = (answer.find((a) => a.id === c.id) || {}).quantity || {min: c.min, max: c.max};
      const id = `comp-${c.id}`;
      const value = state.components[c.id] ?? configured[c.id] ?? c.default;
      fieldset.append(el("div", {class: "option"},
        el("label", {for: id}, `${c.id}: ${c.product}`, " ", el("small", {class: "muted"}, `(${range.min}–${range.max})`)),
        el("input", {type: "number", id, class: "qty", min: c.min, max: c.max, value, inputmode: "numeric",
          onchange: (event) => {
            const n = parseInt(event.target.value, 10);
            if (Number.isFinite(n) && n >= 0) state.components[c.id] = n;
            refresh();
          }})));
    }
    return fieldset;
  }

  function showWhy(optionId) {
    const box = $(`whybox-${optionId}`);
    const option = optionState(optionId) || {};
    box.replaceChildren(
      el("p", {}, reasonText(option.reasons) || "Not possible with your current choices."),
      el("button", {type: "button", class: "small", onclick: () => {
        state.forced.add(optionId);
        state.focusRepair = true;  // the conflict's repairs come next: keyboard users land on them
        pick(optionId);
        refresh();
      }}, `Choose ${name(optionId)} anyway`),
      " ",
      el("button", {type: "button", class: "small", onclick: () => { box.hidden = true; $(`opt-${optionId}`).focus(); }}, "Close"));
    box.hidden = false;
    box.querySelector("button").focus();
  }

  function renderConflict() {
    const box = $("conflict");
    const conflict = state.answer.conflict;
    if (state.answer.consistent || !conflict) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.replaceChildren(
      el("h2", {}, "These choices do not fit together"),
      el("p", {}, conflict.conflict.map(choiceText).join(" + ")),
      el("ul", {}, conflict.rules.map((r) => el("li", {}, r.message, " ", el("small", {class: "muted"}, r.source || "")))),
      el("p", {}, conflict.repairs.length ? "Fix it in one click:" : "No repair found: start over."),
      el("div", {class: "repairs"}, conflict.repairs.map((repair) =>
        el("button", {type: "button", class: "repair", onclick: () => applyRepair(repair)},
          repair.actions.map(actionText).join(" and ")))));
    box.hidden = false;
  }

  function renderAlerts() {
    const box = $("alerts");
    const items = [];
    // alerts of the full configuration when there is one (the partial selection's otherwise)
    const alerts = state.completeAlerts || state.answer.alerts || [];
    for (const a of alerts) items.push(el("li", {class: "alert"}, a.message));
    for (const c of state.answer.rule_conflicts || []) items.push(el("li", {class: "alert warn"}, c.message || c.rule));
    for (const a of state.answer.added || []) items.push(el("li", {class: "alert"}, `${name(a.option)} was added (rule ${a.rule}).`));
    box.replaceChildren(items.length ? el("ul", {}, items) : "");
  }

  function render() {
    const features = $("features");
    const focused = document.activeElement && document.activeElement.id;
    features.replaceChildren(...state.product.features.map(renderFeature));
    const comps = renderComponents();
    if (comps) features.prepend(comps);
    renderConflict();
    renderAlerts();
    $("status").textContent = state.answer.consistent ? "Your choices fit together." : "Your choices conflict: see below.";
    const repair = state.focusRepair && !state.answer.consistent && document.querySelector("#conflict .repair");
    state.focusRepair = false;
    const after = state.focusAfter && $(state.focusAfter);
    state.focusAfter = null;
    if (repair) repair.focus();
    else if (after) after.focus();
    else if (focused && $(focused)) $(focused).focus();
  }

  // ------------------------------------------------------------------ line and price

  function line() {
    const config = state.configuration;
    const options = Object.entries(config.options).map(([id, quantity]) => ({id, quantity}));
    const components = Object.entries(config.components).filter(([, n]) => n > 0)
      .map(([id, quantity]) => ({id, quantity, options: state.componentOptions[id] || []}));
    const body = {product: productId, quantity: Math.max(1, parseInt($("bundle-qty").value, 10) || 1), options};
    if (components.length) body.components = components;
    return body;
  }

  function renderWaterfall(priced) {
    const currency = priced.currency;
    $("waterfall").replaceChildren(...priced.lines.map((l) => el("table", {class: "waterfall"},
      el("caption", {}, `Line ${l.id}`),
      el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "Item"), el("th", {scope: "col"}, "Step"), el("th", {scope: "col"}, "Amount"))),
      el("tbody", {}, l.items.flatMap((item) => item.waterfall.map((step, i) => el("tr", {},
        el("td", {}, i === 0 ? `${item.name} × ${item.quantity}` : ""),
        el("td", {}, step.label, step.note ? el("small", {class: "muted"}, ` ${step.note}`) : null),
        el("td", {class: "num"}, money(step.after, currency)))))))));
  }

  async function price(seq) {
    const acc = account();
    if (!state.configuration || !acc) {
      $("price").textContent = "—";
      $("price-note").textContent = state.answer && !state.answer.consistent ? "Resolve the conflict to see the price." : "";
      return;
    }
    try {
      const {data} = await api("POST", "/api/v1/price", {currency: acc.currency || "USD", account: {id: acc.id},
        context: isBuyer ? {channel: "web"} : {}, lines: [line()]});
      if (seq !== state.seq) return;
      const t = data.totals;
      state.book = (data.pricebooks || [])[0] || null;
      $("price").textContent = money(t.net, data.currency);
      $("price-note").textContent = `List ${money(t.list, data.currency)} · with tax ${money(t.grand_total, data.currency)}`
        + (t.annual && t.annual !== "0.00" ? ` · ${money(t.annual, data.currency)} a year` : "")
        + ` · pricebook ${(data.pricebooks || []).join(" → ")}`;
      renderWaterfall(data);
    } catch (error) {
      if (seq !== state.seq) return;
      $("price").textContent = "—";
      $("price-note").textContent = problemText(error);
    }
  }

  // ------------------------------------------------------------------ one round trip

  async function refresh() {
    const seq = ++state.seq;
    const started = performance.now();
    root.dataset.busy = "true";
    const body = selectionBody();
    const [configured, completed] = await Promise.all([
      api("POST", `/api/v1/products/${encodeURIComponent(productId)}/configure`, body),
      api("POST", `/api/v1/products/${encodeURIComponent(productId)}/complete`, {...body, objective: "defaults", reasons: false}).catch(() => null),
    ]).catch((error) => { toast(problemText(error)); return [null, null]; });
    if (seq !== state.seq) return;
    if (configured) {
      state.answer = configured.data;
      state.configuration = configured.data.consistent && completed ? completed.data.configuration : null;
      state.completeAlerts = state.configuration ? completed.data.alerts : null;
      for (const f of configured.data.features) for (const o of f.options) if (o.hidden) state.hidden.add(o.id);
      render();
    }
    const shown = performance.now();
    await price(seq);
    if (seq !== state.seq) return;
    const priced = performance.now();
    const timing = {configure_ms: Math.round(shown - started), with_price_ms: Math.round(priced - started)};
    if (state.loaded) window.cpqTimings.push(timing);  // interactions only, not the page's first answer
    state.loaded = true;
    $("timing").textContent = `updated in ${timing.configure_ms} ms (${timing.with_price_ms} ms with the price)`;
    state.done = seq;
    root.dataset.busy = "false";
    root.dataset.done = String(seq);
  }

  async function completeFor(objective) {
    const acc = account();
    const body = {...selectionBody(), objective, reasons: false};
    if (objective === "cheapest" && state.book) body.pricebook = state.book;  // the account's book, as /price resolved it
    try {
      const {data} = await api("POST", `/api/v1/products/${encodeURIComponent(productId)}/complete`, body);
      for (const [id, quantity] of Object.entries(data.configuration.options)) state.picks.set(id, quantity);
      state.excluded.clear();
      Object.assign(state.components, data.configuration.components);
      refresh();
    } catch (error) {
      toast(problemText(error));
    }
  }

  // ------------------------------------------------------------------ quotes

  async function addToQuote() {
    if (!state.configuration) { toast("Resolve the conflict first."); return; }
    const target = $("target-quote").value;
    const acc = account();
    try {
      let number;
      if (!target) {
        const {data} = await api("POST", "/api/v1/quotes", {account_id: acc.id, ...(isBuyer ? {channel: "web"} : {}), lines: [line()]});
        number = data.number;
      } else {
        const {data, etag} = await api("GET", `/api/v1/quotes/${encodeURIComponent(target)}`);
        const lines = data.lines.map((l) => ({...l}));
        if (editLine && target === editQuote) {
          const index = lineIndex(data);
          lines[index] = {...lines[index], ...line(), id: editLine};
        } else {
          lines.push(line());
        }
        await api("PATCH", `/api/v1/quotes/${encodeURIComponent(target)}`, {lines}, {"If-Match": etag});
        number = target;
      }
      window.location.href = `/quotes/${encodeURIComponent(number)}`;
    } catch (error) {
      toast(problemText(error));
    }
  }

  async function loadDrafts() {
    if (isBuyer) { $("target-quote").closest(".field").hidden = true; return; }  // buyers cannot revise quotes
    try {
      const {data} = await api("GET", "/api/v1/quotes?state=draft&limit=100");
      for (const q of data.items) $("target-quote").append(el("option", {value: q.number}, `draft ${q.number} (${q.account_id})`));
      if (editQuote) $("target-quote").value = editQuote;
    } catch (error) {
      toast(problemText(error));
    }
  }

  /** Where the edited line is: by its own id, or the id the server numbered it with. */
  function lineIndex(quote) {
    return quote.lines.findIndex((l, i) => (l.id || (quote.priced.lines[i] || {}).id) === editLine);
  }

  async function loadLine() {
    const {data} = await api("GET", `/api/v1/quotes/${encodeURIComponent(editQuote)}`);
    const found = data.lines[lineIndex(data)];
    if (!found) return;
    for (const o of found.options) state.picks.set(o.id, o.quantity || null);
    for (const c of found.components || []) state.components[c.id] = c.quantity;
    $("bundle-qty").value = found.quantity;
    $("account").value = data.account_id;
    $("add-to-quote").textContent = `Save line ${editLine} of ${editQuote}`;
  }

  async function start() {
    const [{data: product}, {data: accounts}] = await Promise.all([
      api("GET", `/api/v1/catalog/products/${encodeURIComponent(productId)}`), api("GET", "/api/v1/accounts")]);
    state.product = product;
    for (const f of product.features) for (const o of f.options) state.names[o.id] = o.name;
    state.accounts = accounts.items;
    for (const a of accounts.items) $("account").append(el("option", {value: a.id}, `${a.name} (${a.currency || "?"})`));
    if (isBuyer) $("account").disabled = true;
    // each bundle component is quoted in its default configuration
    await Promise.all(product.components.map(async (c) => {
      const {data} = await api("POST", `/api/v1/products/${encodeURIComponent(c.product)}/complete`, {objective: "defaults", reasons: false});
      state.componentOptions[c.id] = Object.entries(data.configuration.options).map(([id, quantity]) => ({id, quantity}));
    }));
    if (editQuote && editLine) await loadLine();
    await loadDrafts();
    $("account").addEventListener("change", refresh);
    $("bundle-qty").addEventListener("change", () => price(state.seq));
    $("complete-defaults").addEventListener("click", () => completeFor("defaults"));
    $("complete-cheapest").addEventListener("click", () => completeFor("cheapest"));
    $("reset").addEventListener("click", () => {
      state.picks.clear(); state.excluded.clear(); state.components = {}; state.forced.clear(); refresh();
    });
    $("add-to-quote").addEventListener("click", addToQuote);
    $("options").addEventListener("submit", (event) => event.preventDefault());
    await refresh();
  }

  start().catch((error) => { $("status").textContent = problemText(error); });
})();
