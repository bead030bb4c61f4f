/* Drafts of dictionary forms kept in this browser while they are filled, so a phone that
 * locks, a wrong tap on "back" or a lost page does not lose a visit's answers.
 *
 * A form opts in with data-draft="<key>". Its answers are saved to localStorage as they
 * change, offered back when the same form is opened again (within DRAFT_HOURS), and
 * removed when the form is sent. Signing out, or arriving at the sign-in page, removes
 * every draft: a shared phone keeps no answers for the next person.
 */
(function () {
  "use strict";
  var PREFIX = "cohort-draft:";
  var DRAFT_HOURS = 12;

  function store() { try { return window.localStorage; } catch (e) { return null; } }

  var t = PageWords.t;  /* words in the reader's language (words.js) */

  function clearAll() {
    var s = store();
    if (!s) { return; }
    for (var i = s.length - 1; i >= 0; i--) {
      var key = s.key(i);
      if (key && key.indexOf(PREFIX) === 0) { s.removeItem(key); }
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[action='/logout']"), function (f) {
    f.addEventListener("submit", clearAll);
  });
  if (document.querySelector("form[action='/login']")) { clearAll(); }

  /* After the page's other scripts (branching) have run: restoring answers refreshes them. */
  document.addEventListener("DOMContentLoaded", keepDraft);

  function keepDraft() {
  var form = document.querySelector("form[data-draft]");
  var s = store();
  if (!form || !s) { return; }
  var key = PREFIX + form.getAttribute("data-draft");
  var SKIP = { csrf_token: 1, version: 1 };

  function collect() {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP[el.name] || el.disabled || el.type === "submit") { return; }
      if ((el.type === "radio" || el.type === "checkbox")) {
        if (!out[el.name]) { out[el.name] = []; }
        if (el.checked) { out[el.name].push(el.value); }
      } else {
        out[el.name] = [el.value];
      }
    });
    return out;
  }

  function apply(values) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP[el.name] || !(el.name in values)) { return; }
      var chosen = values[el.name] || [];
      if (el.type === "radio" || el.type === "checkbox") { el.checked = chosen.indexOf(el.value) >= 0; }
      else if (chosen.length) { el.value = chosen[0]; }
    });
    if (window.cohortBranching) { window.cohortBranching.refresh(); }
    form.dispatchEvent(new Event("input", { bubbles: true }));
  }

  var initial = JSON.stringify(collect());
  var saved = null;
  try { saved = JSON.parse(s.getItem(key) || "null"); } catch (e) { saved = null; }
  if (saved && (Date.now() - saved.at > DRAFT_HOURS * 3600 * 1000)) { s.removeItem(key); saved = null; }
  if (saved && JSON.stringify(saved.values) !== initial) {
    apply(saved.values);
    var note = document.createElement("p");
    note.className = "flash flash-note";
    note.id = "draft-restored";
    note.setAttribute("role", "status");
    note.appendChild(document.createTextNode(t("Answers typed earlier on this phone ({time}) are filled in again.", {
      time: new Date(saved.at).toLocaleTimeString([PageWords.lang()], { hour: "2-digit", minute: "2-digit" })
    }) + " "));
    var discard = document.createElement("button");
    discard.type = "button";
    discard.textContent = t("Start again");
    discard.addEventListener("click", function () { s.removeItem(key); window.location.reload(); });
    note.appendChild(discard);
    form.parentNode.insertBefore(note, form);
  }

  var timer = null;
  function save() {
    timer = null;
    var values = collect();
    if (JSON.stringify(values) === initial) { return; }
    try { s.setItem(key, JSON.stringify({ at: Date.now(), values: values })); } catch (e) { /* full: no draft */ }
  }
  function later() { if (timer === null) { timer = window.setTimeout(save, 300); } }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  window.addEventListener("pagehide", function () { if (timer !== null) { window.clearTimeout(timer); save(); } });
  /* Sent: the draft goes. Another handler may still stop the sending (answers to
   * correct): then it is kept again once the event is over. */
  form.addEventListener("submit", function (event) {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    s.removeItem(key);
    window.setTimeout(function () { if (event.defaultPrevented) { save(); } }, 0);
  });
  }
})();
