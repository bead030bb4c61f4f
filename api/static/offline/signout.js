/* Sign-out from any page also clears what the offline app keeps on this phone.
 * Entries not yet sent are never dropped silently: with some waiting, sign-out goes
 * through the offline app (/offline/#signout), which sends them or names what would be
 * discarded. Otherwise IndexedDB, the caches and local storage are wiped first.
 */
(function () {
  "use strict";
  var form = document.querySelector("form.signout");
  if (!form || !window.indexedDB) { return; }
  var NAME = "outsider-offline";
  function pending() {
    return new Promise(function (resolve) {
      var list = indexedDB.databases ? indexedDB.databases() : Promise.resolve([{name: NAME}]);
      list.then(function (dbs) {
        if (!dbs.some(function (d) { return d.name === NAME; })) { resolve(0); return; }
        var r = indexedDB.open(NAME);
        r.onerror = function () { resolve(0); };
        r.onsuccess = function () {
          var db = r.result;
          if (!db.objectStoreNames.contains("entries")) { db.close(); resolve(0); return; }
          var c = db.transaction("entries").objectStore("entries").count();
          c.onsuccess = function () { db.close(); resolve(c.result); };
          c.onerror = function () { db.close(); resolve(0); };
        };
      }, function () { resolve(0); });
    });
  }
  function wipe() {
    var jobs = [new Promise(function (resolve) {
      var r = indexedDB.deleteDatabase(NAME);
      r.onsuccess = r.onerror = r.onblocked = function () { resolve(); };
    })];
    if (window.caches) {
      jobs.push(caches.keys().then(function (keys) {
        return Promise.all(keys.map(function (k) { return caches["delete"](k); }));
      }));
    }
    try { localStorage.clear(); sessionStorage.clear(); } catch (e) { /* none */ }
    return Promise.all(jobs);
  }
  var started = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (started) { return; }
    started = true;
    var done = false;
    function submit() { if (!done) { done = true; form.submit(); } }
    /* Signing out must never hang on the browser's storage: at worst it goes ahead. */
    var fallback = setTimeout(submit, 3000);
    pending().then(function (count) {
      if (count) { clearTimeout(fallback); done = true; window.location.href = "/offline/#signout"; return; }
      return wipe().then(submit);
    }, submit);
  });
})();
