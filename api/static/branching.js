/* Live branching logic, computed fields, piping and light checks for dictionary forms.
 *
 * Each field wrapper carries data-branching (forms.Field.branching_ast as JSON); computed
 * fields (calc, @CALCTEXT, @CALCDATE) an <output data-calc>; piped answers in labels and
 * notes are <span data-pipe>. The <form data-env> says what the logic sees besides the
 * answers on the page (event, other events, today, missing-data codes, smart variables).
 * cohortLogic (static/logic.js) evaluates it all the way the server does. Hidden fields are
 * disabled so their answers are not sent; the server validates everything again.
 * No library, no build step: runs on an old phone browser (ES2015).
 */
(function () {
  "use strict";

  var logic = window.cohortLogic;
  var form = document.querySelector("form.dict-form");
  if (!form || !logic) { return; }
  var wrappers = Array.prototype.slice.call(form.querySelectorAll("[data-field]"));
  var base = {};
  try { base = JSON.parse(form.getAttribute("data-env") || "{}"); } catch (e) { base = {}; }
  var pipeFields = base.pipeFields || {};

  function inputsOf(wrapper) {
    return Array.prototype.slice.call(wrapper.querySelectorAll("input, select, textarea"))
      .filter(function (i) { return !i.classList.contains("missing-code"); });
  }
  function missingOf(wrapper) { return wrapper.querySelector("select.missing-code"); }
  function parse(text) { try { return JSON.parse(text); } catch (e) { return null; } }

  /* The checks' words and dates in the reader's language (words.js). */
  var t = PageWords.t;
  var day = PageWords.day;

  /* Current answers: checkboxes as arrays of codes, other fields as strings ("" if blank);
   * a missing-data code chosen in the field's "Missing" list is its answer. */
  function answers() {
    var out = {};
    wrappers.forEach(function (w) {
      var name = w.getAttribute("data-field");
      var hidden = w.classList.contains("is-hidden");
      var missing = missingOf(w);
      if (missing && missing.value && !hidden) { out[name] = missing.value; return; }
      var inputs = inputsOf(w);
      if (!inputs.length) { return; }
      if (inputs[0].type === "checkbox") {
        out[name] = hidden ? [] : inputs.filter(function (i) { return i.checked; })
          .map(function (i) { return i.value; });
      } else if (inputs[0].type === "radio") {
        var on = inputs.filter(function (i) { return i.checked; })[0];
        out[name] = (!hidden && on) ? on.value : "";
      } else {
        out[name] = hidden ? "" : inputs[0].value;
      }
    });
    return out;
  }

  function envFor(values) {
    return {values: values, others: base.others || {}, event: base.event === null ? undefined : base.event,
            today: base.today, now: base.now, missing: base.missing || [], context: base.context || {},
            schedule: base.schedule, instances: base.instances || {}, instance: base.instance};
  }

  function compute(values) {
    wrappers.forEach(function (w) {
      var out = w.querySelector("output[data-calc]");
      if (!out) { return; }
      var name = w.getAttribute("data-field"), value = "";
      if (!w.classList.contains("is-hidden")) {
        try { value = logic.evaluate(parse(out.getAttribute("data-calc")), envFor(values)); }
        catch (e) { value = ""; }
      }
      values[name] = value;
      out.textContent = logic.asText(value);
    });
  }

  function pipe(values) {
    var env = envFor(values);
    Array.prototype.forEach.call(form.querySelectorAll("[data-pipe]"), function (span) {
      var ref = parse(span.getAttribute("data-pipe"));
      if (!ref) { return; }
      if (!ref.smart && ref.event && ref.event !== base.event) { return; } /* other events: as served */
      try { span.textContent = logic.pipe(ref, env, pipeFields); } catch (e) { /* keep */ }
    });
  }

  function refresh() {
    /* Repeat until stable: a field hidden now may hide the fields that depend on it. */
    var values = answers();
    for (var pass = 0; pass < 5; pass++) {
      values = answers();
      compute(values);
      var changed = false;
      wrappers.forEach(function (w) {
        var raw = w.getAttribute("data-branching");
        if (!raw) { return; }
        var show;
        try { show = logic.truthy(logic.evaluate(parse(raw), envFor(values))); } catch (e) { show = true; }
        if (show === w.classList.contains("is-hidden")) {
          changed = true;
          w.classList.toggle("is-hidden", !show);
          var locked = w.hasAttribute("data-readonly");
          inputsOf(w).forEach(function (i) {
            if (!(locked && (i.type === "radio" || i.type === "checkbox" || i.tagName === "SELECT"))) {
              i.disabled = !show;
            }
          });
          var missing = missingOf(w);
          if (missing) { missing.disabled = !show; }
        }
      });
      if (!changed) { break; }
    }
    pipe(values);
    wrappers.forEach(function (w) {
      var missing = missingOf(w);
      w.classList.toggle("is-missing", !!(missing && missing.value));
    });
  }

  /* A slot that has shown a message keeps its height once the answer is corrected, so
   * nothing below moves under a finger about to tap it (the field's own layout stays put). */
  function setError(wrapper, message) {
    var slot = wrapper.querySelector(".error");
    if (slot) {
      if (!message && slot.textContent) {
        slot.style.minHeight = slot.getBoundingClientRect().height + "px";
        slot.classList.add("kept");
      }
      slot.textContent = message;
    }
    wrapper.classList.toggle("has-error", !!message);
  }

  /* A bound naming another answer (data-max-field) follows that answer live when it is on
   * the page; otherwise the value the server knew (data-max), or none. */
  function bound(input, which) {
    var named = input.getAttribute("data-" + which + "-field");
    if (named) {
      var live = answers()[named];
      if (live !== undefined) { return typeof live === "string" ? live : ""; }
    }
    return input.getAttribute("data-" + which);
  }

  function isNumber(v) { return v !== "" && v !== null && v !== undefined && !isNaN(Number(v)); }

  /* Light checks only: required answers, number ranges, word limits. */
  function check(wrapper) {
    if (wrapper.classList.contains("is-hidden")) { setError(wrapper, ""); return true; }
    var inputs = inputsOf(wrapper);
    var missing = missingOf(wrapper);
    if (!inputs.length || (missing && missing.value)) { setError(wrapper, ""); return true; }
    var input = inputs[0];
    var message = "";
    var required = inputs.some(function (i) { return i.getAttribute("data-required"); });
    if (input.type === "radio") {
      if (required && !inputs.some(function (i) { return i.checked; })) {
        message = t("Please choose an answer.");
      }
    } else if (input.type !== "checkbox") {
      var value = input.value.trim();
      var kind = input.getAttribute("data-kind");
      var words = wrapper.getAttribute("data-wordlimit");
      if (!value) {
        if (required) { message = t("Please answer this question."); }
      } else if (input.type === "number" || kind === "integer" || kind === "number") {
        var n = Number(value.replace(",", "."));
        var min = bound(input, "min"), max = bound(input, "max");
        var from = input.getAttribute("data-bound-label");
        if (isNaN(n)) { message = t("Please enter a number."); }
        else if (kind === "integer" && Math.floor(n) !== n) { message = t("Please enter a whole number."); }
        else if (min !== null && min !== "" && isNumber(min) && n < Number(min)) {
          message = from && input.getAttribute("data-min-field")
            ? t("Please enter a value of at least {min}, the answer to \u201c{question}\u201d.", {min: min, question: from})
            : t("Please enter a value of at least {min}.", {min: min});
        }
        else if (max !== null && max !== "" && isNumber(max) && n > Number(max)) {
          message = from && input.getAttribute("data-max-field")
            ? t("Please enter a value of at most {max}, the answer to \u201c{question}\u201d.", {max: max, question: from})
            : t("Please enter a value of at most {max}.", {max: max});
        }
      } else if (kind === "date" && input.max && value > input.max) {
        message = t("Please enter a date up to today ({date}).", {date: day(input.max)});
      } else if (words !== null && value.split(/\s+/).length > Number(words)) {
        message = t("Please use at most {n} words.", {n: words});
      }
    }
    setError(wrapper, message);
    return !message;
  }

  /* @NONEOFTHEABOVE: that choice alone or the others; @MAXCHECKED: no more ticks. */
  function choiceRules(wrapper, changed) {
    var boxes = inputsOf(wrapper).filter(function (i) { return i.type === "checkbox"; });
    if (!boxes.length || wrapper.hasAttribute("data-readonly")) { return; }
    var exclusive = parse(wrapper.getAttribute("data-exclusive") || "[]") || [];
    if (changed && changed.checked && exclusive.length) {
      var alone = exclusive.indexOf(changed.value) >= 0;
      boxes.forEach(function (b) {
        if (b !== changed && (alone || exclusive.indexOf(b.value) >= 0)) { b.checked = false; }
      });
    }
    var most = wrapper.getAttribute("data-maxchecked");
    if (most !== null) {
      var ticked = boxes.filter(function (b) { return b.checked; }).length;
      boxes.forEach(function (b) { if (!b.checked) { b.disabled = ticked >= Number(most); } });
    }
  }

  form.addEventListener("change", function (event) {
    var wrapper = event.target.closest ? event.target.closest("[data-field]") : null;
    if (wrapper) { choiceRules(wrapper, event.target.type === "checkbox" ? event.target : null); }
    refresh();
    if (wrapper) { check(wrapper); }
  });
  form.addEventListener("input", function (event) {
    var t = event.target;
    if (t.type === "radio" || t.type === "checkbox") { return; }
    refresh();
  });
  form.addEventListener("submit", function (event) {
    refresh();
    var bad = wrappers.filter(function (w) { return !check(w); });
    if (bad.length) {
      event.preventDefault();
      var target = inputsOf(bad[0])[0];
      if (target) { target.focus(); }
      bad[0].scrollIntoView({ block: "center" });
    }
  });
  wrappers.forEach(function (w) { choiceRules(w, null); });
  refresh();
  window.cohortBranching = { evaluate: logic.evaluate, truthy: logic.truthy, refresh: refresh };
})();
