/* The session form's count of AERLI-trained workers ticked, kept up to date as boxes are
 * ticked (a worker counts when trained on or before the session date, as the server counts). */
(function () {
  "use strict";
  var out = document.getElementById("trained-count");
  var form = out ? out.closest("form") : null;
  if (!form) { return; }
  var needed = Number(out.getAttribute("data-needed"));
  var t = PageWords.t;  /* the count's words in the reader's language (words.js) */
  function update() {
    var dateInput = form.querySelector("[name=session_date]");
    var day = dateInput ? dateInput.value : "";
    var n = Array.prototype.filter.call(form.querySelectorAll("input[name=staff_ids]"), function (b) {
      var since = b.getAttribute("data-trained-on");
      return b.checked && since && (!day || since <= day);
    }).length;
    out.textContent = n === 1
      ? t("{n} AERLI-trained worker ticked; the protocol asks for {needed} observing in person.", {n: n, needed: needed})
      : t("{n} AERLI-trained workers ticked; the protocol asks for {needed} observing in person.", {n: n, needed: needed});
    out.classList.toggle("short", n < needed);
  }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
})();
