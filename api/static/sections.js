/* Sections of a long dictionary form (the dictionary's section headers): a bar that stays
 * at the top with how many questions are answered, and one button per section to jump to
 * it, showing that section's own count. Questions hidden by branching are not counted.
 * Only forms with three sections or more get it. No library (ES2015). */
(function () {
  "use strict";
  var form = document.querySelector("form.dict-form");
  if (!form) { return; }
  var headings = Array.prototype.slice.call(form.querySelectorAll("h3.section"))
    .filter(function (h) { return !h.classList.contains("tag-hidden"); });
  if (headings.length < 3) { return; }

  var sections = headings.map(function (h, i) {
    h.id = h.id || "section-" + (i + 1);
    var fields = [], node = h.nextElementSibling;
    while (node && !(node.tagName === "H3" && node.classList.contains("section"))) {
      if (node.hasAttribute("data-field")) { fields.push(node); }
      node = node.nextElementSibling;
    }
    return { heading: h, fields: fields, title: h.textContent.trim() };
  });

  function answerable(w) {
    if (w.classList.contains("is-hidden") || w.classList.contains("tag-hidden")) { return false; }
    return !!w.querySelector("input:not([type=hidden]):not(.missing-code), select:not(.missing-code), textarea");
  }
  function answered(w) {
    var missing = w.querySelector("select.missing-code");
    if (missing && missing.value) { return true; }
    var inputs = Array.prototype.slice.call(w.querySelectorAll("input, select, textarea"))
      .filter(function (i) { return !i.classList.contains("missing-code"); });
    return inputs.some(function (i) {
      return (i.type === "radio" || i.type === "checkbox") ? i.checked : i.value.trim() !== "";
    });
  }

  var t = PageWords.t;  /* words in the reader's language (words.js) */

  var nav = document.createElement("nav");
  nav.className = "form-sections";
  nav.setAttribute("aria-label", t("Sections of this form"));
  var summary = document.createElement("div");
  summary.className = "progress-line";
  var words = document.createElement("span");
  words.id = "form-progress";
  var bar = document.createElement("progress");
  bar.max = 1;
  summary.appendChild(words);
  summary.appendChild(bar);
  var list = document.createElement("div");
  list.className = "section-links";
  var links = sections.map(function (section, i) {
    var a = document.createElement("a");
    a.href = "#" + section.heading.id;
    a.className = "section-link";
    a.setAttribute("data-section", String(i + 1));
    a.appendChild(document.createTextNode(section.title + " "));
    var count = document.createElement("span");
    count.className = "count";
    a.appendChild(count);
    a.addEventListener("click", function (event) {
      event.preventDefault();
      /* Just under the bar, whatever its height (its buttons wrap on a wide screen). */
      var y = section.heading.getBoundingClientRect().top + window.pageYOffset -
        nav.getBoundingClientRect().height - 6;
      window.scrollTo(0, Math.max(0, y));
      var first = section.fields.filter(answerable)[0];
      var input = first ? first.querySelector("input, select, textarea") : null;
      if (input) { input.focus({ preventScroll: true }); }
    });
    list.appendChild(a);
    return { a: a, count: count, section: section };
  });
  nav.appendChild(summary);
  nav.appendChild(list);
  form.insertBefore(nav, form.firstChild);

  function update() {
    var total = 0, done = 0;
    links.forEach(function (l) {
      var shown = l.section.fields.filter(answerable);
      var n = shown.filter(answered).length;
      total += shown.length; done += n;
      l.count.textContent = n + "/" + shown.length;
      l.a.classList.toggle("complete", shown.length > 0 && n === shown.length);
      l.a.classList.toggle("has-error", l.section.fields.some(function (w) { return w.classList.contains("has-error"); }));
      l.a.hidden = shown.length === 0;
    });
    words.textContent = t("{done} of {total} questions answered", {done: done, total: total});
    bar.value = total ? done / total : 0;
  }
  function current() {
    var top = nav.getBoundingClientRect().bottom + 8, on = 0;
    sections.forEach(function (s, i) { if (s.heading.getBoundingClientRect().top <= top) { on = i; } });
    links.forEach(function (l, i) {
      l.a.classList.toggle("current", i === on);
      if (i === on) { l.a.setAttribute("aria-current", "true"); } else { l.a.removeAttribute("aria-current"); }
    });
  }
  form.addEventListener("change", function () { window.setTimeout(update, 0); });
  form.addEventListener("input", function () { window.setTimeout(update, 0); });
  form.addEventListener("submit", function () { window.setTimeout(update, 0); });
  window.addEventListener("scroll", current, { passive: true });
  update();
  current();
})();
