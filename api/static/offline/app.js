/* The offline app (/offline/): participant list, dictionary forms and the queue, on a phone
 * with or without network.
 *
 * Online, it fetches /offline/data (the worker's own centre: pseudonymous participant list,
 * staff, forms rendered by the server with their branching) and keeps it in IndexedDB for
 * offline_days. Forms are the server's own field HTML; static/branching.js evaluates their
 * branching and light checks exactly as on the online pages. Saved entries join the queue
 * (static/offline/queue.js) as "waiting to send" and are sent when the network returns
 * (Background Sync, the online event, on load and the Send button). Refusals and conflicts
 * come back to a "needs attention" list. Signing out sends what it can, warns naming what
 * would be lost, then wipes IndexedDB, the caches and local storage.
 */
/* global OfflineQueue */
(function () {
  "use strict";
  var Q = window.OfflineQueue;
  var DAY = 86400000;
  var app = document.getElementById("offline-app");
  if (!app || !Q) { return; }
  var state = {bundle: null, entries: [], signin: false, expired: false};

  /* The app's words and dates in the reader's language (words.js; offline.html renders
   * the words with the shell, so the service worker keeps them with it). */
  var t = PageWords.t;
  var day = PageWords.day;

  function $(sel) { return app.querySelector(sel); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function button(text, cls, onclick) {
    var b = el("button", {type: "button", "class": cls || "", text: text});
    b.addEventListener("click", onclick);
    return b;
  }
  function iso(d) {
    var m = d.getMonth() + 1, day = d.getDate();
    return d.getFullYear() + "-" + (m < 10 ? "0" : "") + m + "-" + (day < 10 ? "0" : "") + day;
  }
  /* Today as the server counts it: its date at the last fetch plus the days since. */
  function today() {
    var b = state.bundle;
    if (!b) { return iso(new Date()); }
    var base = new Date(b.today + "T12:00:00");
    var days = Math.floor((Date.now() - b.device_fetched) / DAY);
    return iso(new Date(base.getTime() + Math.max(0, days) * DAY));
  }

  function localTime(text) {
    var d = new Date(text);
    if (isNaN(d.getTime())) { return text; }
    var h = d.getHours(), m = d.getMinutes();
    return day(iso(d)) + " " + (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m;
  }
  /* A field's question as the form words it (the server names fields by variable). */
  var labelCache = {};
  function labelOf(key, name) {
    var b = state.bundle;
    if (!b || !b.forms[key]) { return name; }
    if (!labelCache[key]) { labelCache[key] = el("div"); labelCache[key].innerHTML = b.forms[key].html; }
    var node = labelCache[key].querySelector("[data-field='" + name + "'] legend, [data-field='" + name + "'] label");
    return node ? node.textContent.replace(/\s*\*\s*$/, "").trim() : name;
  }

  function fieldNode(key, name) {
    labelOf(key, name);
    return labelCache[key] ? labelCache[key].querySelector("[data-field='" + name + "']") : null;
  }
  /* An answer in words: a choice's label rather than its code. */
  function answerText(key, name, value) {
    var node = fieldNode(key, name);
    var codes = Array.isArray(value) ? value : [value];
    if (value === undefined || value === null || value === "") { return ""; }
    return codes.map(function (code) {
      if (!node) { return String(code); }
      var input = node.querySelector("input[value='" + String(code).replace(/'/g, "") + "']");
      if (input && input.parentNode && input.parentNode.querySelector("span")) {
        return input.parentNode.querySelector("span").textContent;
      }
      var option = node.querySelector("option[value='" + String(code).replace(/'/g, "") + "']");
      return option ? option.textContent : String(code);
    }).join(", ");
  }

  var KIND_LABELS = {enrolment: "Enrolment", session: "AERLI session", status: "Follow-up status"};
  function describe(e) {
    var who = e.participant || (e.after ? t("the person enrolled on this phone") : "");
    var what = e.kind === "questionnaire" ? t("{timepoint} questionnaire", {timepoint: e.timepoint})
      : e.kind === "correction" ? t("Correction of {timepoint}", {timepoint: e.timepoint}) : t(KIND_LABELS[e.kind]);
    var when = e.made_at ? " · " + t("made {time}", {time: localTime(e.made_at)}) : "";
    return what + (who ? " · " + who : "") + when;
  }

  /* ---------- data ---------- */
  function refreshData() {
    if (!navigator.onLine) { return Promise.resolve(); }
    return fetch("/offline/data", {credentials: "same-origin", redirect: "manual",
                                   headers: {"Accept": "application/json"}})
      .then(function (res) {
        if (res.type === "opaqueredirect" || res.status === 401 || res.status === 403) {
          state.signin = true; return null;
        }
        if (!res.ok) { return null; }
        return res.json().then(function (b) {
          b.device_fetched = Date.now();
          state.bundle = b; state.signin = false; state.expired = false;
          return Q.setMeta("bundle", b);
        });
      }, function () { return null; });
  }

  function load() {
    return Q.getMeta("bundle").then(function (b) {
      if (b && Date.now() - b.device_fetched > b.offline_days * DAY) {
        state.expired = true;
        return Q.delMeta("bundle").then(function () { state.bundle = null; });
      }
      state.bundle = b || null;
    }).then(refreshData).then(Q.entries).then(function (all) { state.entries = all; });
  }

  /* Redraw the lists, but never pull a form the worker is filling from under them. */
  function inForm() { return !$("#form-view").hidden; }
  function reloadEntries() {
    return Q.entries().then(function (all) { state.entries = all; if (!inForm()) { render(); } });
  }

  function sendNow() {
    var status = $("#send-status");
    if (status) { status.textContent = t("Sending…"); }
    return Q.sendAll().then(function (s) {
      state.signin = s.stopped === "signin";
      var done = s.saved ? refreshData() : Promise.resolve();
      return done.then(reloadEntries).then(function () {
        var msg = $("#send-status");
        if (!msg) { return s; }
        msg.textContent = s.stopped === "offline" ? t("No network: entries wait on this phone.")
          : s.stopped === "signin" ? t("Please sign in again to send.")
          : s.stopped === "server" ? t("The server could not take them now; they will be sent later.")
          : (s.saved ? t("{n} sent.", {n: s.saved}) + " " : "") +
            (s.flagged ? t("{n} saved with a note for a research officer to review; nothing more is needed from you.", {n: s.flagged}) + " " : "") +
            (s.attention ? t("{n} need attention.", {n: s.attention}) : "");
        return s;
      });
    });
  }

  function askSync() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync && reg.sync.register) { return reg.sync.register("send-entries"); }
    })["catch"](function () { /* no Background Sync: on load, online and the button */ });
  }

  /* ---------- home ---------- */
  function render() {
    var b = state.bundle;
    var home = $("#home");
    home.innerHTML = "";
    $("#form-view").hidden = true;
    home.hidden = false;
    var net = el("p", {id: "net", "class": "flash " + (navigator.onLine ? "flash-ok" : "flash-note"),
                       text: navigator.onLine ? t("Online") : t("Offline: entries are kept on this phone and sent later.")});
    home.appendChild(net);
    if (state.expired) {
      home.appendChild(el("p", {"class": "flash flash-note", id: "expired",
        text: t("The offline copy was wiped: nobody signed in on this phone for too long. Connect and sign in again. Entries waiting to send are kept and will be sent after you sign in.")}));
    }
    if (state.signin || !b) {
      home.appendChild(el("p", {id: "signin"}, [
        document.createTextNode((b ? t("Sign in again to send entries and refresh the list:") : t("Sign in once with network to use this phone offline:")) + " "),
        el("a", {href: "/login?next=/offline/", text: t("sign in")})]));
    }
    if (b) {
      var until = new Date(b.device_fetched + b.offline_days * DAY);
      home.appendChild(el("p", {"class": "muted small", id: "who",
        text: b.worker.username + " · " + b.worker.centre + " " + b.worker.centre_name + " · " +
              t("list of {date}, usable offline until {until}", {date: day(iso(new Date(b.device_fetched))), until: day(iso(until))})}));
      home.appendChild(el("p", {}, [button(t("Enrol a participant"), "primary", function () { openForm({kind: "enrolment"}); })]));
    }
    renderQueue(home);
    if (b) { renderParticipants(home, b); }
    home.appendChild(el("p", {}, [button(t("Sign out and clear this phone"), "", function () { signOut(); })]));
  }

  function renderQueue(home) {
    var attention = state.entries.filter(function (e) { return e.state !== "waiting"; });
    var waiting = state.entries.filter(function (e) { return e.state === "waiting"; });
    if (attention.length) {
      home.appendChild(el("h2", {text: t("Needs attention ({n})", {n: attention.length})}));
      var list = el("ul", {"class": "cards", id: "attention"});
      attention.forEach(function (e) { list.appendChild(attentionCard(e)); });
      home.appendChild(list);
    }
    home.appendChild(el("h2", {text: t("Waiting to send ({n})", {n: waiting.length})}));
    var ul = el("ul", {"class": "cards", id: "waiting"});
    waiting.forEach(function (e) {
      ul.appendChild(el("li", {"class": "card", "data-uuid": e.uuid, text: describe(e)}));
    });
    if (!waiting.length) { ul.appendChild(el("li", {"class": "muted", text: t("Nothing waiting.")})); }
    home.appendChild(ul);
    home.appendChild(el("p", {}, [button(t("Send now"), "", function () { sendNow(); })]));
    home.appendChild(el("p", {id: "send-status", "class": "muted", role: "status", text: ""}));
  }

  function attentionCard(e) {
    var o = e.outcome || {};
    var card = el("li", {"class": "card state-overdue", "data-uuid": e.uuid}, [
      el("strong", {text: describe(e)}),
      el("p", {"class": "error reason", text: o.message || t("Not saved.")})]);
    var errors = o.errors || {};
    Object.keys(errors).forEach(function (k) {
      if (errors[k] === o.message) { return; }
      card.appendChild(el("p", {"class": "small", text: labelOf(formKey(e), k) + ": " + errors[k]}));
    });
    if (e.state === "conflict" && o.theirs) {
      card.appendChild(conflictTable(e, o.theirs));
      card.appendChild(el("p", {"class": "review"}, [
        button(t("Keep theirs (discard mine)"), "", function () {
          Q.deleteEntry(e.uuid).then(reloadEntries);
        }),
        button(t("Send mine as a correction"), "primary", function () {
          e.kind = "correction"; e.expected_version = o.theirs.version; e.state = "waiting"; e.outcome = null;
          Q.putEntry(e).then(function () { askSync(); return sendNow(); });
        })]));
      return card;
    }
    card.appendChild(el("p", {"class": "review"}, [
      button(t("Correct"), "primary", function () { openForm(e); }),
      button(t("Discard"), "", function () {
        if (window.confirm(t("Discard this entry? It was not saved and will be lost: {entry}", {entry: describe(e)}))) {
          Q.deleteEntry(e.uuid).then(reloadEntries);
        }
      })]));
    return card;
  }

  function shown(v) { return Array.isArray(v) ? v.join(", ") : (v === undefined || v === null ? "" : String(v)); }
  function conflictTable(e, theirs) {
    var names = Object.keys(theirs.answers || {});
    Object.keys(e.answers || {}).forEach(function (k) { if (names.indexOf(k) < 0) { names.push(k); } });
    var key = formKey(e);
    /* Answers that differ; computed fields follow from the others and are left out. */
    var rows = names.filter(function (k) {
      var node = fieldNode(key, k);
      return !(node && node.querySelector("output[data-calc]")) &&
        shown(theirs.answers[k]) !== shown(e.answers[k]);
    });
    /* One block per question (no table: nothing cut off on a 390 px screen). */
    var box = el("div", {"class": "conflict"}, [el("p", {"class": "small muted",
      text: t("Saved by someone else on {time} (version {version}). Answers that differ:", {time: localTime(theirs.saved_at), version: theirs.version})})]);
    rows.forEach(function (k) {
      box.appendChild(el("div", {"class": "diff", "data-field-name": k}, [
        el("strong", {text: labelOf(key, k)}),
        el("div", {"class": "theirs", text: t("Theirs: {answer}", {answer: answerText(key, k, theirs.answers[k]) || t("(no answer)")})}),
        el("div", {"class": "mine", text: t("Yours: {answer}", {answer: answerText(key, k, e.answers[k]) || t("(no answer)")})})]));
    });
    if (!rows.length) { box.appendChild(el("p", {text: t("Both versions give the same answers.")})); }
    return box;
  }

  function renderParticipants(home, b) {
    home.appendChild(el("h2", {text: t("My centre's participants ({n})", {n: b.participants.length})}));
    var ul = el("ul", {"class": "cards", id: "participant-list"});
    b.participants.forEach(function (p) {
      var next = p.next_timepoint ? t("Next: {timepoint} {opens} → {closes}", {timepoint: p.next_timepoint, opens: day(p.next_opens), closes: day(p.next_closes)}) : t("Follow-up complete");
      var actions = el("p", {"class": "review"});
      ["M0", "M6", "M12"].forEach(function (tp) {
        if (p.done.indexOf(tp) < 0) {
          actions.appendChild(button(tp, tp === p.next_timepoint ? "primary" : "",
            function () { openForm({kind: "questionnaire", timepoint: tp, participant: p.code}); }));
        }
      });
      actions.appendChild(button(t("AERLI session"), "", function () { openForm({kind: "session", participant: p.code}); }));
      actions.appendChild(button(t("Status"), "", function () { openForm({kind: "status", participant: p.code}); }));
      ul.appendChild(el("li", {"class": "card state-" + p.window_state, "data-code": p.code}, [
        el("strong", {"class": "code", text: p.code}),
        el("span", {"class": "muted", text: " " + t(p.group) + " · " + t(p.status.replace(/_/g, " "))}),
        el("div", {text: next}), actions]));
    });
    /* People enrolled on this phone, not sent yet: visits can be entered for them too. */
    state.entries.filter(function (e) { return e.kind === "enrolment"; }).forEach(function (e) {
      var actions = el("p", {"class": "review"}, [
        button("M0", "primary", function () { openForm({kind: "questionnaire", timepoint: "M0", after: e.uuid}); }),
        button(t("AERLI session"), "", function () { openForm({kind: "session", after: e.uuid}); })]);
      ul.insertBefore(el("li", {"class": "card", "data-after": e.uuid}, [
        el("strong", {text: t("New participant (code given when sent)")}),
        el("div", {"class": "muted", text: describe(e)}), actions]), ul.firstChild);
    });
    home.appendChild(ul);
  }

  /* ---------- forms ---------- */
  function formKey(e) { return e.kind === "questionnaire" || e.kind === "correction" ? e.timepoint : e.kind; }

  function openForm(entry) {
    var b = state.bundle;
    if (!b) { return; }
    var spec = b.forms[formKey(entry)];
    var view = $("#form-view");
    view.innerHTML = "";
    $("#home").hidden = true;
    view.hidden = false;
    var who = entry.participant || (entry.after ? t("new participant") : "");
    var title = (entry.kind === "enrolment" ? t("Enrol a participant") : entry.kind === "session" ? t("AERLI session")
      : entry.kind === "status" ? t("Follow-up status") : t("{timepoint} questionnaire", {timepoint: entry.timepoint})) + (who ? " · " + who : "");
    view.appendChild(el("h1", {text: title}));
    var env = JSON.parse(spec.env);
    env.today = today();
    env.context = env.context || {};
    if (entry.participant) { env.context["record-name"] = entry.participant; }
    var form = el("form", {"class": "dict-form", id: "offline-form", novalidate: ""});
    form.setAttribute("data-env", JSON.stringify(env));
    var fields = el("div");
    fields.innerHTML = spec.html;
    form.appendChild(fields);
    if (entry.kind === "session") { form.appendChild(staffChoices(entry)); }
    form.appendChild(el("button", {type: "submit", "class": "primary", text: t("Keep on this phone")}));
    form.appendChild(button(t("Cancel"), "", function () { render(); }));
    view.appendChild(form);
    if (entry.answers) { fill(form, entry.answers); showErrors(form, (entry.outcome || {}).errors || {}); }
    else {
      spec.dates.forEach(function (name) {
        var input = form.querySelector("input[name='" + name + "']");
        if (input && !input.value) { input.value = env.today; }
      });
    }
    form.addEventListener("submit", function (event) {
      /* branching.js (loaded below) checks every field on submit and marks the errors. */
      event.preventDefault();
      setTimeout(function () {
        if (!form.querySelector("[data-field].has-error")) { keep(entry, form); }
      }, 0);
    });
    var script = document.createElement("script");
    script.src = "/static/branching.js";
    document.body.appendChild(script);
    window.scrollTo(0, 0);
  }

  function staffChoices(entry) {
    var b = state.bundle;
    var chosen = entry.staff_ids || [b.worker.staff_id];
    var box = el("fieldset", {"class": "field", id: "field-staff"}, [el("legend", {text: t("Outreach workers present")})]);
    var choices = el("div", {"class": "choices"});
    b.staff.forEach(function (s) {
      var input = el("input", {type: "checkbox", name: "staff_ids", value: String(s.id)});
      input.checked = chosen.indexOf(s.id) >= 0;
      var label = s.name + (s.id === b.worker.staff_id ? " " + t("(you)") : "") + (s.trained ? " · " + t("AERLI-trained") : "");
      choices.appendChild(el("label", {"class": "choice"}, [input, el("span", {text: label})]));
    });
    box.appendChild(choices);
    return box;
  }

  function wrappers(form) { return Array.prototype.slice.call(form.querySelectorAll("[data-field]")); }
  function inputsOf(w) {
    return Array.prototype.slice.call(w.querySelectorAll("input, select, textarea"))
      .filter(function (i) { return !i.classList.contains("missing-code"); });
  }

  /* The answers as the server reads a submitted form (api.formview.answers_from_form). */
  function collect(form) {
    var out = {};
    wrappers(form).forEach(function (w) {
      if (w.classList.contains("is-hidden")) { return; }
      var name = w.getAttribute("data-field");
      var missing = w.querySelector("select.missing-code");
      if (missing && missing.value) { out[name] = missing.value; return; }
      var inputs = inputsOf(w).filter(function (i) { return !i.disabled || i.type === "checkbox"; });
      if (!inputs.length || w.hasAttribute("data-readonly")) { return; }
      if (inputs[0].type === "checkbox") {
        var ticked = inputs.filter(function (i) { return i.checked; }).map(function (i) { return i.value; });
        if (ticked.length) { out[name] = ticked; }
      } else if (inputs[0].type === "radio") {
        var on = inputs.filter(function (i) { return i.checked; })[0];
        if (on) { out[name] = on.value; }
      } else if (inputs[0].value.trim()) {
        out[name] = inputs[0].value.trim();
      }
    });
    return out;
  }

  function fill(form, answers) {
    wrappers(form).forEach(function (w) {
      var name = w.getAttribute("data-field");
      if (!(name in answers)) { return; }
      var value = answers[name];
      var missing = w.querySelector("select.missing-code");
      var inputs = inputsOf(w);
      if (missing && typeof value === "string" && Array.prototype.some.call(missing.options, function (o) { return o.value === value && value; })) {
        missing.value = value; return;
      }
      inputs.forEach(function (i) {
        if (i.type === "checkbox") { i.checked = Array.isArray(value) && value.indexOf(i.value) >= 0; }
        else if (i.type === "radio") { i.checked = i.value === String(value); }
        else { i.value = String(value); }
      });
    });
  }

  function showErrors(form, errors) {
    Object.keys(errors).forEach(function (name) {
      var w = form.querySelector("[data-field='" + name + "']");
      if (!w) { return; }
      w.classList.add("has-error");
      var slot = w.querySelector(".error");
      if (slot) { slot.textContent = errors[name]; }
    });
  }

  function keep(entry, form) {
    var e = entry.uuid ? entry : {uuid: Q.uuid(), kind: entry.kind, seq: Date.now(),
                                  participant: entry.participant || null, after: entry.after || null,
                                  timepoint: entry.timepoint || null, made_at: new Date().toISOString(),
                                  made_by: state.bundle ? state.bundle.worker.staff_id : null};
    e.answers = collect(form);
    if (e.kind === "session") {
      e.staff_ids = Array.prototype.slice.call(form.querySelectorAll("input[name=staff_ids]:checked"))
        .map(function (i) { return Number(i.value); });
    }
    e.state = "waiting";
    e.outcome = null;
    Q.putEntry(e).then(function () {
      askSync();
      $("#form-view").hidden = true;
      return reloadEntries();
    }).then(function () {
      var status = $("#send-status");
      if (status) { status.textContent = t("Kept on this phone: {entry}.", {entry: describe(e)}); }
      if (navigator.onLine) { sendNow(); }
    });
  }

  /* ---------- sign-out ---------- */
  function wipeAll() {
    var jobs = [Q.wipe()];
    if (window.caches) {
      jobs.push(caches.keys().then(function (keys) { return Promise.all(keys.map(function (k) { return caches["delete"](k); })); }));
    }
    try { window.localStorage.clear(); window.sessionStorage.clear(); } catch (err) { /* none */ }
    return Promise.all(jobs);
  }

  function leave() {
    var csrf = state.bundle ? state.bundle.csrf : "";
    return wipeAll().then(function () {
      var form = el("form", {method: "post", action: "/logout"}, [el("input", {type: "hidden", name: "csrf_token", value: csrf})]);
      document.body.appendChild(form);
      if (navigator.onLine) { form.submit(); } else { window.location.href = "/login"; }
    });
  }

  function signOut() {
    var first = navigator.onLine ? Q.sendAll()["catch"](function () { return null; }) : Promise.resolve();
    return first.then(Q.entries).then(function (left) {
      state.entries = left;
      if (!left.length) { return leave(); }
      var view = $("#form-view");
      view.innerHTML = "";
      $("#home").hidden = true;
      view.hidden = false;
      var list = el("ul", {id: "discard-list"});
      left.forEach(function (e) { list.appendChild(el("li", {text: describe(e)})); });
      var one = left.length === 1;
      view.appendChild(el("h1", {text: t("Not sent yet")}));
      view.appendChild(el("p", {"class": "flash flash-error", id: "discard-warning",
        text: one ? t("{n} entry has not been sent. Signing out now discards it for good:", {n: left.length})
          : t("{n} entries have not been sent. Signing out now discards them for good:", {n: left.length})}));
      view.appendChild(list);
      view.appendChild(el("p", {"class": "review"}, [
        button(one ? t("Keep it and stay signed in") : t("Keep them and stay signed in"),
               "primary", function () { render(); }),
        button(one ? t("Discard it and sign out") : t("Discard them and sign out"),
               "", function () { leave(); })]));
    });
  }

  /* ---------- start ---------- */
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", {scope: "/"})["catch"](function () { /* shell not kept */ });
    navigator.serviceWorker.addEventListener("message", function (m) {
      if (m.data && m.data.type === "sent") { refreshData().then(reloadEntries); }
    });
  }
  window.addEventListener("online", function () { if (!inForm()) { render(); } sendNow(); });
  window.addEventListener("offline", function () { if (!inForm()) { render(); } });
  window.offlineApp = {sendNow: sendNow, state: state, signOut: signOut};
  load().then(function () {
    render();
    app.setAttribute("data-ready", "1");
    if (window.location.hash === "#signout") { return signOut(); }
    if (navigator.onLine && state.entries.some(function (e) { return e.state === "waiting"; })) { return sendNow(); }
  });
})();
