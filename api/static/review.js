// Progressive enhancement for the review pages (issue 15 points 7 and 8); the pages work
// without it. Sortable tables: a click on a header sorts by that column (numbers as
// numbers, "–" last), a second click reverses. Deviations: "select all" and a count.
(function () {
  "use strict";
  function key(cell) {
    var raw = (cell && (cell.getAttribute("data-sort") || cell.textContent) || "").trim();
    var n = parseFloat(raw.replace("%", ""));
    return isNaN(n) ? raw.toLowerCase() : n;
  }
  function compare(a, b) {
    var na = typeof a === "number", nb = typeof b === "number";
    if (na && nb) return a - b;
    if (na) return -1;
    if (nb) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    var heads = table.querySelectorAll("thead th[data-col]");
    // On a phone the table's header is hidden (one card per row): a "Sort by" list then
    // sorts the same way, highest first (names A to Z).
    var picker = document.createElement("select");
    picker.className = "sort-by";
    picker.setAttribute("aria-label", "Sort by");
    picker.appendChild(new Option("Sort by…", ""));
    heads.forEach(function (th) {
      picker.appendChild(new Option(th.getAttribute("data-name") || th.textContent,
                                    th.getAttribute("data-col")));
    });
    picker.addEventListener("change", function () {
      if (!picker.value) return;
      var col = parseInt(picker.value, 10);
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = typeof key(rows[0] && rows[0].cells[col]) === "number";
      rows.sort(function (r1, r2) {
        var c = compare(key(r1.cells[col]), key(r2.cells[col]));
        return numeric ? -c : c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
    var holder = table.closest(".scroll") || table;
    holder.parentNode.insertBefore(picker, holder);
    heads.forEach(function (th) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var col = parseInt(th.getAttribute("data-col"), 10);
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        table.querySelectorAll("thead th[data-col]").forEach(function (o) {
          o.setAttribute("aria-sort", "none");
        });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          return dir * compare(key(r1.cells[col]), key(r2.cells[col]));
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var all = document.getElementById("select-all");
  if (all) {
    var ticks = document.querySelectorAll("input.tick");
    var shown = document.getElementById("ticked");
    var count = function () {
      var n = Array.prototype.filter.call(ticks, function (t) { return t.checked; }).length;
      if (shown) shown.textContent = n ? n + " ticked" : "";
    };
    all.parentNode.hidden = false;
    all.addEventListener("change", function () {
      ticks.forEach(function (t) { t.checked = all.checked; });
      count();
    });
    ticks.forEach(function (t) { t.addEventListener("change", count); });
  }
})();
