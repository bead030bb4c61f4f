/* The words the pages' scripts write, in the reader's language: base.html (and the offline
 * shell, which the service worker keeps) renders them as JSON in #page-words; English
 * where a word is missing. One copy for every script: PageWords.t("Saved {n}", {n: 3}),
 * PageWords.day("2026-03-31") (31/03/2026 in French), PageWords.lang. Loaded in the head,
 * read on first use (the element is further down the page). */
var PageWords = (function () {
  var words = null;
  function all() {
    if (words === null) {
      var el = document.getElementById("page-words");
      try { words = (el && JSON.parse(el.textContent)) || {}; } catch (e) { words = {}; }
    }
    return words;
  }
  function t(text, params) {
    var out = all()[text] || text;
    Object.keys(params || {}).forEach(function (k) { out = out.split("{" + k + "}").join(params[k]); });
    return out;
  }
  /* An ISO date (and what follows it) the reader's way. */
  function day(text) {
    if (!text || all().lang !== "fr") { return text; }
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
    return m ? m[3] + "/" + m[2] + "/" + m[1] + text.slice(10) : text;
  }
  return { t: t, day: day, lang: function () { return all().lang || "en"; } };
})();
