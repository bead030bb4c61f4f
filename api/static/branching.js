/* Live branching logic and light inline checks for dictionary forms.
 *
 * Each field wrapper carries data-branching: the dictionary's branching expression as a
 * JSON syntax tree (forms.Field.branching_ast). Hidden fields are disabled so their
 * answers are not sent; the server validates everything again and stays authoritative.
 * No library, no build step: runs on an old phone browser (ES2015).
 */
(function () {
  "use strict";

  var form = document.querySelector("form.dict-form");
  if (!form) { return; }
  var wrappers = Array.prototype.slice.call(form.querySelectorAll("[data-field]"));

  function inputsOf(wrapper) {
    return Array.prototype.slice.call(wrapper.querySelectorAll("input, select, textarea"));
  }

  /* Current answers: checkboxes as arrays of codes, other fields as strings ("" if blank). */
  function answers() {
    var out = {};
    wrappers.forEach(function (w) {
      var name = w.getAttribute("data-field");
      var inputs = inputsOf(w);
      if (!inputs.length) { return; }
      var hidden = w.classList.contains("is-hidden");
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

  function first(node, keys) {
    for (var i = 0; i < keys.length; i++) {
      if (node[keys[i]] !== undefined) { return node[keys[i]]; }
    }
    return undefined;
  }

  function operands(node) {
    var list = first(node, ["args", "operands", "children", "items", "terms"]);
    if (list) { return list; }
    var out = [];
    var left = first(node, ["left", "lhs", "a"]);
    var right = first(node, ["right", "rhs", "b"]);
    if (left !== undefined) { out.push(left); }
    if (right !== undefined) { out.push(right); }
    var single = first(node, ["arg", "operand", "expr", "value_expr"]);
    if (single !== undefined) { out.push(single); }
    return out;
  }

  function isNumber(v) {
    return v !== "" && v !== null && v !== undefined && !isNaN(Number(v));
  }

  function truthy(v) {
    if (Array.isArray(v)) { return v.length > 0; }
    return v !== "" && v !== null && v !== undefined && v !== false && v !== 0 && v !== "0";
  }

  /* REDCap compares as numbers when both sides are numbers, else as text. */
  function compare(op, a, b) {
    if (Array.isArray(a)) { a = a.length ? a.join(",") : ""; }
    if (Array.isArray(b)) { b = b.length ? b.join(",") : ""; }
    var x = a, y = b;
    if (isNumber(a) && isNumber(b)) { x = Number(a); y = Number(b); }
    else { x = a === null || a === undefined ? "" : String(a); y = b === null || b === undefined ? "" : String(b); }
    switch (op) {
      case "=": case "==": case "eq": return x === y;
      case "!=": case "<>": case "ne": return x !== y;
      case "<": case "lt": return x !== "" && y !== "" && x < y;
      case "<=": case "le": return x !== "" && y !== "" && x <= y;
      case ">": case "gt": return x !== "" && y !== "" && x > y;
      case ">=": case "ge": return x !== "" && y !== "" && x >= y;
    }
    return false;
  }

  function variable(node, values) {
    var name = first(node, ["name", "field", "var", "variable", "ref"]);
    if (name && typeof name === "object") { return evaluate(name, values); }
    var code = first(node, ["code", "choice", "option", "checkbox_code"]);
    var value = values[name];
    if (code !== undefined && code !== null) {
      return Array.isArray(value) && value.indexOf(String(code)) >= 0 ? "1" : "0";
    }
    return value === undefined ? "" : value;
  }

  var COMPARISONS = ["=", "==", "!=", "<>", "<", "<=", ">", ">=",
                     "eq", "ne", "lt", "le", "gt", "ge"];

  function evaluate(node, values) {
    if (node === null || node === undefined) { return true; }
    if (typeof node !== "object") { return node; }
    if (Array.isArray(node)) { return node.map(function (n) { return evaluate(n, values); }); }
    var op = first(node, ["op", "operator", "type", "kind", "node"]);
    op = typeof op === "string" ? op.toLowerCase() : op;
    if (op === undefined) {
      if (first(node, ["var", "field", "ref"]) !== undefined) { return variable(node, values); }
      if (node.value !== undefined) { return node.value; }
      return true;
    }
    var args = operands(node);
    if (op === "and" || op === "&&") {
      return args.every(function (a) { return truthy(evaluate(a, values)); });
    }
    if (op === "or" || op === "||") {
      return args.some(function (a) { return truthy(evaluate(a, values)); });
    }
    if (op === "not" || op === "!") { return !truthy(evaluate(args[0], values)); }
    if (COMPARISONS.indexOf(op) >= 0 || (op === "compare" || op === "comparison" || op === "binop" || op === "binary")) {
      var real = COMPARISONS.indexOf(op) >= 0 ? op : first(node, ["cmp", "operator_symbol", "symbol", "sym"]);
      return compare(real, evaluate(args[0], values), evaluate(args[1], values));
    }
    if (op === "var" || op === "field" || op === "ref" || op === "variable" || op === "checkbox") {
      return variable(node, values);
    }
    if (op === "literal" || op === "const" || op === "constant" || op === "number" || op === "string" || op === "str" || op === "num") {
      return first(node, ["value", "v"]);
    }
    if (op === "+" || op === "-" || op === "*" || op === "/") {
      var p = Number(evaluate(args[0], values)), q = Number(evaluate(args[1], values));
      return op === "+" ? p + q : op === "-" ? p - q : op === "*" ? p * q : (q ? p / q : NaN);
    }
    if (op === "neg") { return -Number(evaluate(args[0], values)); }
    if (op === "paren" || op === "group") { return evaluate(args[0], values); }
    return true; /* unknown construct: show the field, the server decides */
  }

  function refresh() {
    /* Repeat until stable: a field hidden now may hide the fields that depend on it. */
    for (var pass = 0; pass < 5; pass++) {
      var values = answers();
      var changed = false;
      wrappers.forEach(function (w) {
        var raw = w.getAttribute("data-branching");
        if (!raw) { return; }
        var show;
        try { show = truthy(evaluate(JSON.parse(raw), values)); } catch (e) { show = true; }
        if (show === w.classList.contains("is-hidden")) {
          changed = true;
          w.classList.toggle("is-hidden", !show);
          inputsOf(w).forEach(function (i) { i.disabled = !show; });
        }
      });
      if (!changed) { break; }
    }
  }

  function setError(wrapper, message) {
    var slot = wrapper.querySelector(".error");
    if (slot) { slot.textContent = message; }
    wrapper.classList.toggle("has-error", !!message);
  }

  /* Light checks only: required answers and number ranges. */
  function check(wrapper) {
    if (wrapper.classList.contains("is-hidden")) { setError(wrapper, ""); return true; }
    var inputs = inputsOf(wrapper);
    if (!inputs.length) { return true; }
    var input = inputs[0];
    var message = "";
    var required = inputs.some(function (i) { return i.getAttribute("data-required"); });
    if (input.type === "radio") {
      if (required && !inputs.some(function (i) { return i.checked; })) {
        message = "Please choose an answer.";
      }
    } else if (input.type !== "checkbox") {
      var value = input.value.trim();
      var kind = input.getAttribute("data-kind");
      if (!value) {
        if (required) { message = "Please answer this question."; }
      } else if (input.type === "number" || kind === "integer" || kind === "number") {
        var n = Number(value.replace(",", "."));
        var min = input.getAttribute("data-min"), max = input.getAttribute("data-max");
        if (isNaN(n)) { message = "Please enter a number."; }
        else if (kind === "integer" && Math.floor(n) !== n) { message = "Please enter a whole number."; }
        else if (min !== null && min !== "" && isNumber(min) && n < Number(min)) { message = "Please enter a value of at least " + min + "."; }
        else if (max !== null && max !== "" && isNumber(max) && n > Number(max)) { message = "Please enter a value of at most " + max + "."; }
      }
    }
    setError(wrapper, message);
    return !message;
  }

  form.addEventListener("change", function (event) {
    refresh();
    var wrapper = event.target.closest ? event.target.closest("[data-field]") : null;
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
  refresh();
  window.cohortBranching = { evaluate: evaluate, truthy: truthy };
})();
