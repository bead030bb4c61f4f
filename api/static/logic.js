/* REDCap's logic language in the browser: the same rules as forms/functions.py,
 * forms/dates.py and forms/evaluate.py, on the JSON tree of forms.Node.to_json().
 *
 * The server is authoritative; the page uses this to show and hide questions, compute
 * calc and @CALCTEXT/@CALCDATE fields and pipe answers into labels while the person types.
 * tests/api/test_branching_js.py holds both sides to the same answers on every expression
 * of the REDCap corpus. No library, no build step: ES2015, runs on an old phone browser.
 *
 * env = {values, others, event, today: "Y-M-D", now: "Y-M-DTH:M:S", missing: [codes],
 *        context: {smart variable: value}, schedule: {events, arms, forms, fieldForms},
 *        instances: {event or "": {n: values}}, instance: n}
 */
(function (root) {
  "use strict";

  var NUMBER = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;
  var INTEGER = /^[-+]?\d+$/;
  var UNITS = {y: 31556952, M: 2630016, d: 86400, h: 3600, m: 60, s: 1};
  var ORDERS = {ymd: [0, 1, 2], mdy: [2, 0, 1], dmy: [2, 1, 0]};
  var EVENT_PREFIXES = ["event-name", "previous-event-name", "next-event-name",
                        "first-event-name", "last-event-name"];
  var INSTANCES = ["current-instance", "previous-instance", "next-instance",
                   "first-instance", "last-instance", "new-instance"];
  var BLANK_HERE = /^(form-url|form-link|survey-|aggregate-|scatter-plot|line-chart|bar-chart|pie-chart|donut-chart|stats-table|rand-|mycap-|calendar-|data-table|reward-)/;

  function isNum(v) { return typeof v === "number"; }

  function asNumber(v) {
    if (v === true) { return 1; }
    if (v === false) { return 0; }
    if (isNum(v)) { return v; }
    if (typeof v === "string" && NUMBER.test(v)) { return parseFloat(v); }
    return null;
  }

  function asText(v) {
    if (v === true) { return "1"; }
    if (v === false) { return "0"; }
    if (v === null || v === undefined) { return ""; }
    return String(v);
  }

  function truthy(v) {
    if (v === true || v === false) { return v; }
    if (v === "" || v === null || v === undefined) { return false; }
    var n = asNumber(v);
    return n !== null ? n !== 0 : true;
  }

  function compare(op, left, right) {
    var a = asNumber(left), b = asNumber(right), x, y;
    if (a !== null && b !== null) { x = a; y = b; }
    else {
      x = asText(left); y = asText(right);
      if ((op === "<" || op === "<=" || op === ">" || op === ">=") &&
          (x === "" || y === "" || a !== null || b !== null)) { return false; }
    }
    switch (op) {
      case "=": case "==": return x === y;
      case "<>": case "!=": return x !== y;
      case "<": return x < y;
      case "<=": return x <= y;
      case ">": return x > y;
      default: return x >= y;
    }
  }

  function tidy(n) { return (isNaN(n) || !isFinite(n)) ? "" : n; }

  function power(base, exponent) {
    if (base < 0 && Math.abs(exponent) < 1 && exponent !== 0) {
      if (Math.trunc(1 / exponent) % 2 === 0) { return ""; }
      return tidy(-Math.pow(Math.abs(base), exponent));
    }
    return tidy(Math.pow(base, exponent));
  }

  function arithmetic(op, left, right) {
    var a = asNumber(left), b = asNumber(right);
    if (a === null || b === null) { return ""; }
    if (op === "+") { return tidy(a + b); }
    if (op === "-") { return tidy(a - b); }
    if (op === "*") { return tidy(a * b); }
    if (op === "/") { return b ? tidy(a / b) : ""; }
    return power(a, b);
  }

  function redcapInteger(v) {
    var t = asText(v).trim();
    if (!INTEGER.test(t)) { return false; }
    var digits = t.replace(/^[+-]+/, "");
    return digits === "0" || digits.charAt(0) !== "0";
  }

  function redcapNumber(v) {
    if (v === true || v === false) { return false; }
    var t = asText(v).trim();
    if (!NUMBER.test(t)) { return false; }
    var digits = t.replace(/^[+-]+/, "");
    if (digits.length > 1 && digits.charAt(0) === "0" && digits.indexOf(".") < 0) { return false; }
    return digits.slice(0, 2) !== "00";
  }

  function numbers(args) {
    return args.map(asNumber).filter(function (n) { return n !== null; });
  }
  function sum(ns) { var t = 0; for (var i = 0; i < ns.length; i++) { t += ns[i]; } return t; }
  function median(ns) {
    var o = ns.slice().sort(function (p, q) { return p - q; }), h = Math.floor(o.length / 2);
    return o.length % 2 ? o[h] : (o[h] + o[h - 1]) / 2;
  }
  function stdev(ns) {
    if (ns.length < 2) { return NaN; }
    var mean = sum(ns) / ns.length;
    return Math.sqrt(sum(ns.map(function (n) { return (n - mean) * (n - mean); })) / (ns.length - 1));
  }
  function aggregate(fn) {
    return function (env, args) {
      var ns = numbers(args);
      return ns.length ? tidy(fn(ns)) : "";
    };
  }
  function unary(fn) {
    return function (env, args) {
      var n = asNumber(args[0]);
      return n === null ? "" : tidy(fn(n));
    };
  }
  function rounder(mode) {
    return function (env, args) {
      var n = asNumber(args[0]), p = args.length > 1 ? args[1] : 0;
      if (n === null || !redcapInteger(p)) { return ""; }
      var places = parseInt(asText(p).trim(), 10);
      if (places < -15 || places > 15) { return ""; }
      var factor = Math.pow(10, places), scaled;
      if (mode === "round") { scaled = Math.floor(Math.abs(n) * factor + 0.5) * (n < 0 || Object.is(n, -0) ? -1 : 1); }
      else if (mode === "up") { scaled = Math.ceil(n * factor); }
      else { scaled = Math.floor(n * factor); }
      return tidy(scaled / factor);
    };
  }
  function chars(t) { return Array.from(t); }
  function count(v) { return redcapInteger(v) ? parseInt(asText(v).trim(), 10) : null; }
  function text(fn) {
    return function (env, args) { return fn.apply(null, args.map(asText)); };
  }

  /* ---- dates (forms/dates.py) ---- */
  function pad(n, w) { var s = String(n); while (s.length < w) { s = "0" + s; } return s; }
  function validMoment(y, mo, d, h, mi, s) {
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) { return null; }
    var dt = new Date(0);
    dt.setUTCFullYear(y, mo - 1, d);
    dt.setUTCHours(h, mi, s, 0);
    if (dt.getUTCDate() !== d || dt.getUTCMonth() !== mo - 1) { return null; }
    return dt.getTime();
  }
  function parseMoment(raw, fmt, env) {
    var t = raw.trim().replace(/\//g, "-"), low = t.toLowerCase();
    if (low === "today") {
      var td = env.today.split("-").map(Number);
      return [validMoment(td[0], td[1], td[2], 0, 0, 0), false];
    }
    if (low === "now") {
      var m0 = /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)$/.exec(env.now);
      return [validMoment(+m0[1], +m0[2], +m0[3], +m0[4], +m0[5], +m0[6]), true];
    }
    var names = fmt !== "ymd" ? ["ymd", fmt] : ["ymd"];
    for (var i = 0; i < names.length; i++) {
      var pattern = names[i] === "ymd" ? "(\\d{4})-(\\d{1,2})-(\\d{1,2})" : "(\\d{1,2})-(\\d{1,2})-(\\d{4})";
      var m = new RegExp("^" + pattern + "(?:[ T](\\d{1,2}):(\\d{2})(?::(\\d{2}))?)?$").exec(t);
      if (!m) { continue; }
      var parts = [+m[1], +m[2], +m[3]], order = ORDERS[names[i]] || ORDERS.ymd;
      var ms = validMoment(parts[order[0]], parts[order[1]], parts[order[2]],
                           +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
      return ms === null ? null : [ms, m[4] !== undefined];
    }
    return null;
  }
  function secondsOfDay(t) {
    var m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t.trim());
    return m ? (+m[1]) * 3600 + (+m[2]) * 60 + (+(m[3] || 0)) : null;
  }
  function isMissing(env, v) { return (env.missing || []).indexOf(v) >= 0; }
  function datediff(env, first, second, unit, fmt, signed) {
    if (!Object.prototype.hasOwnProperty.call(UNITS, unit)) { return null; }
    if (isMissing(env, first.trim())) { first = ""; }
    if (isMissing(env, second.trim())) { second = ""; }
    var one = secondsOfDay(first), two = secondsOfDay(second), secs;
    if (one !== null && two !== null) {
      secs = two - one;
      return (signed ? secs : Math.abs(secs)) / UNITS[unit];
    }
    var a = parseMoment(first, fmt, env), b = parseMoment(second, fmt, env);
    if (!a || !b || a[0] === null || b[0] === null) { return null; }
    secs = (b[0] - a[0]) / 1000;
    if (!signed) { secs = Math.abs(secs); }
    if (unit === "d" && !a[1] && !b[1]) { return Math.round(secs / 86400); }
    return secs / UNITS[unit];
  }
  function calcdate(env, start, offset, unit) {
    if (!Object.prototype.hasOwnProperty.call(UNITS, unit) || isMissing(env, start.trim())) { return null; }
    var moment = parseMoment(start, "ymd", env);
    if (!moment || moment[0] === null) { return null; }
    var secs = offset * UNITS[unit];
    var moved = new Date(moment[0] + (secs < 0 ? -1 : 1) * Math.floor(Math.abs(secs) + 0.5) * 1000);
    if (isNaN(moved.getTime()) || moved.getUTCFullYear() < 1 || moved.getUTCFullYear() > 9999) { return null; }
    var day = pad(moved.getUTCFullYear(), 4) + "-" + pad(moved.getUTCMonth() + 1, 2) + "-" + pad(moved.getUTCDate(), 2);
    return moment[1] ? day + " " + pad(moved.getUTCHours(), 2) + ":" + pad(moved.getUTCMinutes(), 2) : day;
  }
  function datePart(part) {
    return function (env, args) {
      var m = parseMoment(asText(args[0]), "ymd", env);
      if (!m || m[0] === null) { return ""; }
      var d = new Date(m[0]);
      return part === "year" ? d.getUTCFullYear() : part === "month" ? d.getUTCMonth() + 1 : d.getUTCDate();
    };
  }

  function missingFn(kind) {
    return function (env, args) {
      var t = asText(args[0]);
      if (kind === "blank_or_missing") { return t === "" || isMissing(env, t); }
      if (kind === "blank_not_missing") { return t === ""; }
      if (kind === "missing") { return t !== "" && isMissing(env, t); }
      var codes = asText(args[1]).replace(/ /g, "").split(",").filter(Boolean);
      return t !== "" && isMissing(env, t) && codes.indexOf(t) >= 0;
    };
  }

  var FUNCTIONS = {
    sum: aggregate(sum),
    min: aggregate(function (ns) { return Math.min.apply(null, ns); }),
    max: aggregate(function (ns) { return Math.max.apply(null, ns); }),
    mean: aggregate(function (ns) { return sum(ns) / ns.length; }),
    median: aggregate(median),
    stdev: aggregate(stdev),
    round: rounder("round"), roundup: rounder("up"), rounddown: rounder("down"),
    abs: unary(Math.abs), sqrt: unary(Math.sqrt), exponential: unary(Math.exp),
    log: function (env, args) {
      var n = asNumber(args[0]), b = args.length > 1 ? asNumber(args[1]) : null;
      if (n === null || n <= 0 || (b !== null && b <= 0)) { return ""; }
      return tidy(b !== null ? Math.log(n) / Math.log(b) : Math.log(n));
    },
    mod: function (env, args) {
      if (!redcapInteger(args[0]) || !redcapInteger(args[1])) { return ""; }
      var d = parseInt(asText(args[0]).trim(), 10), v = parseInt(asText(args[1]).trim(), 10);
      return v === 0 ? "" : tidy(d % v);
    },
    datediff: function (env, args) {
      var unit = args.length > 2 ? asText(args[2]) : "", fmt = "ymd", signed = false;
      for (var i = 3; i < args.length; i++) {
        var w = asText(args[i]).trim().toLowerCase();
        if (ORDERS[w]) { fmt = w; } else { signed = args[i] === true || w === "true" || w === "1"; }
      }
      var r = datediff(env, asText(args[0]), asText(args[1]), unit, fmt, signed);
      return r === null ? "" : tidy(r);
    },
    calcdate: function (env, args) {
      var off = asNumber(args[1]);
      if (off === null) { return ""; }
      var r = calcdate(env, asText(args[0]), off, asText(args[2]));
      return r === null ? "" : r;
    },
    calctext: function (env, args) { return args[0]; },
    year: datePart("year"), month: datePart("month"), day: datePart("day"),
    isnumber: function (env, args) { return redcapNumber(args[0]); },
    isinteger: function (env, args) { return redcapInteger(args[0]); },
    contains: text(function (a, b) { return a.toLowerCase().indexOf(b.toLowerCase()) >= 0; }),
    not_contain: text(function (a, b) { return a.toLowerCase().indexOf(b.toLowerCase()) < 0; }),
    starts_with: text(function (a, b) { return a.toLowerCase().indexOf(b.toLowerCase()) === 0; }),
    ends_with: text(function (a, b) {
      var h = a.toLowerCase(), n = b.toLowerCase();
      return h.length >= n.length && h.slice(h.length - n.length) === n;
    }),
    find: function (env, args) {
      var h = chars(asText(args[1]).toLowerCase()), n = chars(asText(args[0]).toLowerCase());
      for (var i = 0; i + n.length <= h.length; i++) {
        if (h.slice(i, i + n.length).join("") === n.join("")) { return i + 1; }
      }
      return 0;
    },
    left: function (env, args) {
      var t = chars(asText(args[0])), c = count(args[1]);
      return c !== null && c >= 1 ? t.slice(0, c).join("") : "";
    },
    right: function (env, args) {
      var t = chars(asText(args[0])), c = count(args[1]);
      return c === null || c < 1 || c > t.length ? "" : t.slice(t.length - c).join("");
    },
    mid: function (env, args) {
      var t = chars(asText(args[0])), s = count(args[1]), c = count(args[2]);
      return s === null || s < 1 || c === null || c < 1 ? "" : t.slice(s - 1, s - 1 + c).join("");
    },
    length: function (env, args) { return chars(asText(args[0])).length; },
    concat: function (env, args) { return args.map(asText).join(""); },
    concat_ws: function (env, args) {
      var sep = asText(args[0]);
      return args.slice(1).map(asText).filter(function (t) { return t !== "" && t !== "NaN"; }).join(sep);
    },
    replace_text: function (env, args) {
      var t = asText(args[0]), s = asText(args[1]), r = asText(args[2]);
      return s ? t.split(s).join(r) : t;
    },
    upper: text(function (a) { return a.toUpperCase(); }),
    lower: text(function (a) { return a.toLowerCase(); }),
    trim: text(function (a) { return a.trim(); }),
    isblankormissingcode: missingFn("blank_or_missing"),
    isblanknotmissingcode: missingFn("blank_not_missing"),
    ismissingcode: missingFn("missing"),
    hasmissingcode: missingFn("has")
  };

  /* ---- events, instances and smart variables (forms/schedule.py, forms/evaluate.py) ---- */
  function schedule(env) { return env.schedule || {events: [], arms: {}, forms: {}, fieldForms: {}}; }
  function armEvents(env, event) {
    var s = schedule(env);
    if (event === null || event === undefined || !Object.prototype.hasOwnProperty.call(s.arms, event)) { return s.events.slice(); }
    return s.events.filter(function (e) { return s.arms[e] === s.arms[event]; });
  }
  function relative(env, which, current, field) {
    var s = schedule(env);
    if (current === null || current === undefined || s.events.indexOf(current) < 0) { return null; }
    var events = armEvents(env, current), form = field ? s.fieldForms[field] : undefined;
    function has(e) { return form === undefined || (s.forms[e] || []).indexOf(form) >= 0; }
    if (form !== undefined) { events = events.filter(function (e) { return has(e) || e === current; }); }
    var here = events.indexOf(current), list;
    if (which === "previous") { list = events.slice(0, here).filter(has); return list.length ? list[list.length - 1] : null; }
    if (which === "next") { list = events.slice(here + 1).filter(has); return list.length ? list[0] : null; }
    list = events.filter(has);
    if (!list.length) { return null; }
    return which === "first" ? list[0] : list[list.length - 1];
  }
  function resolveEvent(env, event, field) {
    if (event === "event-name") { return env.event === undefined ? null : env.event; }
    if (EVENT_PREFIXES.indexOf(event) >= 0) { return relative(env, event.split("-")[0], env.event, field); }
    return event;
  }
  function instanceNumbers(env, key) {
    return Object.keys((env.instances || {})[key] || {}).map(Number).sort(function (a, b) { return a - b; });
  }
  function instanceAnswers(env, event, which) {
    var key = (event === null || event === undefined || event === env.event) ? "" : event;
    var all = (env.instances || {})[key] || {}, ns = instanceNumbers(env, key);
    var current = env.instance || 1, n = null;
    if (/^\d+$/.test(which)) { n = parseInt(which, 10); }
    else if (which === "current-instance") { n = current; }
    else if (which === "previous-instance") { ns.forEach(function (x) { if (x < current) { n = x; } }); }
    else if (which === "next-instance") { ns.slice().reverse().forEach(function (x) { if (x > current) { n = x; } }); }
    else if (which === "first-instance") { n = ns.length ? ns[0] : null; }
    else { n = ns.length ? ns[ns.length - 1] : null; }
    if (n === null) { return {}; }
    if (n === current && key === "" && !Object.prototype.hasOwnProperty.call(all, String(n))) { return env.values; }
    return all[String(n)] || {};
  }
  function answersFor(env, name, event, instance) {
    var where = event ? resolveEvent(env, event, name) : env.event;
    if (instance) { return instanceAnswers(env, where, instance); }
    if (!event) { return env.values || {}; }
    if (where === null || where === undefined) { return {}; }
    if (where === env.event || (env.event === undefined && where === "")) { return env.values || {}; }
    return (env.others || {})[where] || {};
  }
  function scalar(v) {
    if (v === null || v === undefined) { return ""; }
    if (Array.isArray(v)) { return v.map(asText).join(","); }
    return v;
  }
  function variable(node, env) {
    var answers = answersFor(env, node.name, node.event || "", node.instance || "");
    var value = answers[node.name];
    if (node.code !== undefined) {
      if (Array.isArray(value)) { return value.indexOf(node.code) >= 0 ? "1" : "0"; }
      var flag = answers[node.name + "___" + node.code];
      return (flag === true || String(flag) === "1" || String(flag) === "True") ? "1" : "0";
    }
    return scalar(value);
  }
  function smartValue(env, name, event) {
    var s = schedule(env), ctx = env.context || {};
    var current = event ? resolveEvent(env, event, "") : env.event;
    if (current === undefined) { current = null; }
    if (BLANK_HERE.test(name)) { return ctx[name] !== undefined ? ctx[name] : ""; }
    if (name === "event-name" || name === "event-label") { return current === null ? "" : current; }
    if (/-event-(name|label)$/.test(name)) { return relative(env, name.split("-")[0], current, "") || ""; }
    if (name === "event-number" || name === "event-id") {
      var evs = armEvents(env, current), at = evs.indexOf(current);
      return at >= 0 ? String(at + 1) : "";
    }
    if (name === "arm-number" || name === "arm-label") {
      var arm = s.arms[current === null ? "" : current] || "";
      return name === "arm-number" || !arm ? arm : "Arm " + arm;
    }
    if (INSTANCES.indexOf(name) >= 0) {
      var ns = instanceNumbers(env, ""), cur = env.instance || 1;
      if (name === "current-instance") { return cur; }
      if (name === "previous-instance") { return cur > 1 ? cur - 1 : ""; }
      if (name === "next-instance") { return cur + 1; }
      if (name === "first-instance") { return ns.length ? ns[0] : cur; }
      if (name === "last-instance") { return ns.length ? ns[ns.length - 1] : cur; }
      return (ns.length ? ns[ns.length - 1] : cur) + 1;
    }
    if (ctx[name] !== undefined) { return ctx[name]; }
    return name === "is-form" ? "1" : name === "is-survey" ? "0" : "";
  }

  var COMPARE = ["=", "==", "<>", "!=", "<", "<=", ">", ">="];
  var ARITHMETIC = ["+", "-", "*", "/", "^"];

  function evaluate(node, env) {
    var op = node.op, args = node.args || [];
    if (op === "literal") { return node.value === null || node.value === undefined ? "" : node.value; }
    if (op === "var") { return variable(node, env); }
    if (op === "smart") { return smartValue(env, node.name, node.event || ""); }
    if (op === "and") { return truthy(evaluate(args[0], env)) && truthy(evaluate(args[1], env)); }
    if (op === "or") { return truthy(evaluate(args[0], env)) || truthy(evaluate(args[1], env)); }
    if (op === "not") { return !truthy(evaluate(args[0], env)); }
    if (op === "neg") { return arithmetic("*", -1, evaluate(args[0], env)); }
    if (COMPARE.indexOf(op) >= 0) { return compare(op, evaluate(args[0], env), evaluate(args[1], env)); }
    if (ARITHMETIC.indexOf(op) >= 0) { return arithmetic(op, evaluate(args[0], env), evaluate(args[1], env)); }
    if (op === "call") {
      if (node.name === "if") {
        return truthy(evaluate(args[0], env)) ? evaluate(args[1], env) : evaluate(args[2], env);
      }
      var fn = FUNCTIONS[node.name];
      if (!fn) { throw new Error("unknown function " + node.name); }
      return fn(env, args.map(function (a) { return evaluate(a, env); }));
    }
    throw new Error("unknown node " + op);
  }

  /* Piping (forms/piping.py): what a reference shows. fields: {name: {choices: [[code,
   * label], …], checkbox, validation}} for the fields a page pipes. */
  var BLANK = "______";
  function dated(t, validation) {
    var m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](.*))?$/.exec(t);
    var order = /_dmy$/.test(validation || "") ? "dmy" : /_mdy$/.test(validation || "") ? "mdy" : "ymd";
    if (!m) { return t; }
    if (order === "ymd") { return t.replace("T", " "); }
    var day = order === "dmy" ? m[3] + "-" + m[2] + "-" + m[1] : m[2] + "-" + m[3] + "-" + m[1];
    return m[4] ? day + " " + m[4] : day;
  }
  function pipe(ref, env, fields) {
    var mods = ref.modifiers || [], blank = mods.indexOf("hideunderscore") >= 0 ? "" : BLANK;
    if (ref.smart) { var sv = asText(smartValue(env, ref.name, ref.event || "")); return sv || blank; }
    var f = fields[ref.name] || {choices: []}, answers = answersFor(env, ref.name, ref.event || "", ref.instance || "");
    /* choices: [[code, label], …] in the dictionary's order */
    var pairs = f.choices || [], labels = {}, codes = pairs.map(function (p) { labels[p[0]] = p[1]; return p[0]; });
    var raw = answers[ref.name];
    if (f.checkbox) {
      var ticked = Array.isArray(raw) ? raw.map(String) : codes.filter(function (c) {
        var flag = answers[ref.name + "___" + c];
        return flag === true || String(flag) === "1" || String(flag) === "True"; });
      if (ref.code) { return ticked.indexOf(ref.code) >= 0 ? "Checked" : "Unchecked"; }
      if (typeof raw === "string" && isMissing(env, raw)) { return raw; }
      var shown = mods.indexOf("value") >= 0 ? codes.filter(function (c) { return ticked.indexOf(c) >= 0; })
        : codes.filter(function (c) { return (ticked.indexOf(c) >= 0) !== (mods.indexOf("unchecked") >= 0); })
          .map(function (c) { return labels[c]; });
      return shown.join(", ") || blank;
    }
    if (raw === null || raw === undefined || raw === "" || (Array.isArray(raw) && !raw.length)) { return blank; }
    var t = asText(raw);
    if (codes.length && mods.indexOf("value") < 0) { return Object.prototype.hasOwnProperty.call(labels, t) ? labels[t] : t; }
    return dated(t, f.validation);
  }

  root.cohortLogic = {evaluate: evaluate, truthy: truthy, asText: asText, pipe: pipe,
                      smartValue: smartValue};
})(window);
