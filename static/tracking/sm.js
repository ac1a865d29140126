/*
 * Smarketing embed script: page views with an anonymous id, and embedded web forms.
 *
 *   <div data-smarketing-form="KEY"></div>
 *   <script src="https://APP/static/tracking/sm.js" data-smarketing="https://APP" async></script>
 *
 * On pages without a form, data-smarketing-site="KEY" on the script tag names the form key
 * whose organisation receives the page views. Everything fails quietly: a site must never
 * break because its marketing tool is unreachable.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "smarketing_aid";
  var script = document.currentScript || document.querySelector("script[data-smarketing]");
  if (!script || window.__smarketing) return;
  window.__smarketing = true; // the snippet may be pasted twice: run once

  var app = (script.getAttribute("data-smarketing") || "").replace(/\/+$/, "");
  if (!app) {
    try { app = new URL(script.src).origin; } catch (e) { return; }
  }

  // --- Anonymous id: localStorage, else a first-party cookie, else this page view only ---------
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function readCookie() {
    var match = document.cookie.match(new RegExp("(?:^|; )" + STORAGE_KEY + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function anonymousId() {
    var id = "";
    try { id = window.localStorage.getItem(STORAGE_KEY) || ""; } catch (e) { /* storage blocked */ }
    if (!id) id = readCookie();
    if (!id) id = newId();
    try { window.localStorage.setItem(STORAGE_KEY, id); } catch (e) { /* storage blocked */ }
    try {
      document.cookie = STORAGE_KEY + "=" + encodeURIComponent(id) + "; max-age=31536000; path=/; SameSite=Lax";
    } catch (e) { /* cookies blocked */ }
    return id;
  }

  var aid = anonymousId();

  function post(url, body, contentType, keepalive) {
    return fetch(url, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: !!keepalive,
      headers: { "Content-Type": contentType },
      body: JSON.stringify(body)
    });
  }

  // --- Page view ---------------------------------------------------------------------------
  function trackPageView(key) {
    if (!key || !window.fetch) return;
    // text/plain is a "simple" request: no preflight, so keepalive works in every browser.
    post(app + "/t/" + encodeURIComponent(key), {
      anonymous_id: aid,
      url: location.href,
      referrer: document.referrer,
      title: document.title
    }, "text/plain", true).catch(function () { /* offline or refused: never bother the visitor */ });
  }

  // --- Forms -------------------------------------------------------------------------------
  var STYLE = [
    ".smk-form{display:grid;gap:.9rem;max-width:32rem;font:inherit}",
    ".smk-field{display:grid;gap:.3rem}",
    ".smk-field label{font-weight:600}",
    ".smk-field input,.smk-field select{font:inherit;padding:.5rem .6rem;border:1px solid #9ca3af;border-radius:6px}",
    ".smk-field [aria-invalid=true]{border-color:#b91c1c}",
    ".smk-consent{display:flex;gap:.5rem;align-items:flex-start}",
    ".smk-consent input{margin-top:.3rem}",
    ".smk-error{color:#b91c1c;font-size:.9em;margin:0}",
    ".smk-req{color:#b91c1c}",
    ".smk-hp{position:absolute!important;left:-10000px!important;width:1px;height:1px;overflow:hidden}",
    ".smk-submit{font:inherit;font-weight:600;padding:.55rem 1.1rem;border:0;border-radius:6px;background:#4f46e5;color:#fff;cursor:pointer;justify-self:start}",
    ".smk-submit[disabled]{opacity:.6;cursor:progress}",
    ".smk-status:empty{display:none}",
    ".smk-status{margin:0}"
  ].join("");

  function injectStyle() {
    if (document.getElementById("smk-style")) return;
    var style = document.createElement("style");
    style.id = "smk-style";
    style.textContent = STYLE;
    (document.head || document.documentElement).appendChild(style);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs) if (Object.prototype.hasOwnProperty.call(attrs, name)) node.setAttribute(name, attrs[name]);
    if (text) node.textContent = text;
    return node;
  }

  var counter = 0;

  function renderForm(container, key, def) {
    var prefix = "smk-" + (++counter) + "-";
    var form = el("form", { "class": "smk-form", novalidate: "" });
    var inputs = {};

    function errorFor(name) {
      return el("p", { "class": "smk-error", id: prefix + name + "-error", hidden: "" });
    }

    def.fields.forEach(function (f) {
      var id = prefix + f.name;
      var wrap = el("div", { "class": "smk-field" });
      var label = el("label", { "for": id }, f.label);
      if (f.required) {
        label.appendChild(document.createTextNode(" "));
        label.appendChild(el("span", { "class": "smk-req", "aria-hidden": "true" }, "*"));
      }
      var input;
      if (f.type === "select") {
        input = el("select", { id: id, name: f.name });
        input.appendChild(el("option", { value: "" }, "Choose…"));
        (f.options || []).forEach(function (o) { input.appendChild(el("option", { value: o.value }, o.label)); });
      } else {
        input = el("input", { id: id, name: f.name, type: f.type || "text", maxlength: String(f.max_length || 1000) });
        if (f.type === "number") { input.setAttribute("min", "1"); input.setAttribute("inputmode", "numeric"); }
      }
      if (f.autocomplete) input.setAttribute("autocomplete", f.autocomplete);
      if (f.required) { input.required = true; input.setAttribute("aria-required", "true"); }
      input.setAttribute("aria-describedby", id + "-error");
      inputs[f.name] = input;
      wrap.appendChild(label);
      wrap.appendChild(input);
      wrap.appendChild(errorFor(f.name));
      form.appendChild(wrap);
    });

    if (def.consent_text) {
      var consentId = prefix + "consent";
      var consentWrap = el("div", { "class": "smk-field" });
      var row = el("div", { "class": "smk-consent" });
      var box = el("input", { type: "checkbox", id: consentId, name: "consent", value: "true", "aria-required": "true" });
      box.required = true;
      box.setAttribute("aria-describedby", consentId + "-error");
      row.appendChild(box);
      row.appendChild(el("label", { "for": consentId }, def.consent_text));
      consentWrap.appendChild(row);
      consentWrap.appendChild(errorFor("consent"));
      form.appendChild(consentWrap);
      inputs.consent = box;
    }

    // The honeypot: invisible to people and to assistive technology; robots fill it in.
    var hpName = def.honeypot || "website";
    var hp = el("div", { "class": "smk-hp", "aria-hidden": "true" });
    hp.appendChild(el("label", { "for": prefix + hpName }, "Leave this empty"));
    var hpInput = el("input", { type: "text", id: prefix + hpName, name: hpName, tabindex: "-1", autocomplete: "off" });
    hp.appendChild(hpInput);
    form.appendChild(hp);

    var button = el("button", { type: "submit", "class": "smk-submit" }, "Submit");
    var status = el("p", { "class": "smk-status", role: "status", "aria-live": "polite" });
    form.appendChild(button);
    form.appendChild(status);

    function clearErrors() {
      Array.prototype.forEach.call(form.querySelectorAll(".smk-error"), function (p) { p.textContent = ""; p.hidden = true; });
      Object.keys(inputs).forEach(function (name) { inputs[name].removeAttribute("aria-invalid"); });
      status.textContent = "";
    }

    function showErrors(errors, detail) {
      var first = null;
      Object.keys(errors || {}).forEach(function (name) {
        var p = document.getElementById(prefix + name + "-error");
        if (!p || !inputs[name]) return;
        p.textContent = errors[name];
        p.hidden = false;
        inputs[name].setAttribute("aria-invalid", "true");
        if (!first) first = inputs[name];
      });
      status.textContent = detail || "Please check the form.";
      if (first) first.focus();
    }

    function succeed(body) {
      if (body && body.redirect_url) {
        window.location.assign(body.redirect_url);
        return;
      }
      var done = el("p", { "class": "smk-success", role: "status", tabindex: "-1" }, (body && body.message) || def.success_message);
      container.replaceChild(done, form);
      done.focus();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors();
      var body = { anonymous_id: aid, page_url: location.href };
      Object.keys(inputs).forEach(function (name) {
        body[name] = inputs[name].type === "checkbox" ? inputs[name].checked : inputs[name].value;
      });
      body[hpName] = hpInput.value;
      button.disabled = true;
      status.textContent = "Sending…";
      post(app + "/f/" + encodeURIComponent(key) + "/submit", body, "application/json", false)
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            if (response.ok) return succeed(data);
            if (response.status === 400) return showErrors(data.errors, data.detail);
            if (response.status === 429) { status.textContent = "Too many submissions; please try again in a minute."; return; }
            status.textContent = "Sorry, the form could not be sent. Please try again later.";
          });
        })
        .catch(function () { status.textContent = "Sorry, the form could not be sent. Please check your connection and try again."; })
        .then(function () { button.disabled = false; });
    });

    injectStyle();
    container.textContent = ""; // replaces any fallback content (e.g. "Loading…", a link)
    container.appendChild(form);
  }

  function loadForm(container) {
    var key = container.getAttribute("data-smarketing-form");
    if (!key || container.getAttribute("data-smarketing-loaded")) return;
    container.setAttribute("data-smarketing-loaded", "1");
    fetch(app + "/f/" + encodeURIComponent(key) + "/", { mode: "cors", credentials: "omit" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (def) { if (def && def.fields) renderForm(container, key, def); })
      .catch(function () { /* leave the page as it is */ });
  }

  function start() {
    if (!window.fetch) return;
    var containers = document.querySelectorAll("[data-smarketing-form]");
    var site = script.getAttribute("data-smarketing-site") ||
      (containers.length ? containers[0].getAttribute("data-smarketing-form") : "");
    trackPageView(site);
    Array.prototype.forEach.call(containers, loadForm);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
