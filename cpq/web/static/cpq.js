/* Shared helpers of the cpq pages: the REST API client (session cookie + CSRF header), DOM
   building, and money text. Amounts stay strings: they are never turned into floats. */
"use strict";

const CPQ = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  /** Call the REST API; resolves {data, etag, status}, rejects with an Error carrying the problem. */
  async function api(method, path, body, headers) {
    const opts = {method, credentials: "same-origin", headers: {Accept: "application/json", ...(headers || {})}};
    if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const response = await fetch(path, opts);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText);
      error.status = response.status;
      error.problem = data;
      throw error;
    }
    return {data, etag: response.headers.get("ETag"), status: response.status};
  }

  /** el("p", {class: "x", onclick: f}, "text", child) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** "1234567.5" → "1,234,567.5" by text (no float). */
  function groupDigits(text) {
    const [whole, fraction] = String(text).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const digits = sign ? whole.slice(1) : whole;
    const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + grouped + (fraction !== undefined ? "." + fraction : "");
  }

  function money(amount, currency) {
    if (amount === null || amount === undefined) return "—";
    return `${groupDigits(amount)} ${currency || ""}`.trim();
  }

  /** A problem document as one readable text: its detail and, when present, each error. */
  function problemText(error) {
    const p = error.problem || {};
    const parts = [p.detail || error.message];
    const errors = p.errors;
    if (Array.isArray(errors)) {
      for (const e of errors) parts.push(e.message || JSON.stringify(e));
    } else if (errors && typeof errors === "object") {
      parts.push(JSON.stringify(errors));
    }
    return parts.join(" — ");
  }

  function toast(message) {
    const box = document.getElementById("toast");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  const role = document.body.dataset.role;
  return {api, el, money, problemText, toast, role, isBuyer: role === "buyer"};
})();
