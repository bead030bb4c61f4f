/* The phone's queue of entries made offline, in IndexedDB, and how they are sent.
 *
 * Shared by the offline page (static/offline/app.js) and the service worker (Background
 * Sync), so it touches no DOM. Each entry carries the UUID the phone gave it; the server
 * keeps a receipt per id (cohort.services.sync), so sending twice (a page killed mid-send,
 * the page and the worker sending at once) saves once. An entry leaves the phone only when
 * the server says it is saved; a refusal or a conflict keeps it, marked for the worker.
 * No library, no build step (ES2015).
 */
(function (root) {
  "use strict";
  var NAME = "outsider-offline";

  function req(r) {
    return new Promise(function (resolve, reject) {
      r.onsuccess = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
    });
  }
  function open() {
    var r = root.indexedDB.open(NAME, 1);
    r.onupgradeneeded = function () {
      var db = r.result;
      if (!db.objectStoreNames.contains("meta")) { db.createObjectStore("meta"); }
      if (!db.objectStoreNames.contains("entries")) { db.createObjectStore("entries", {keyPath: "uuid"}); }
    };
    return req(r);
  }
  function withStore(name, mode, fn) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode), result;
        Promise.resolve(fn(tx.objectStore(name))).then(function (v) { result = v; });
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }
  function getMeta(key) { return withStore("meta", "readonly", function (s) { return req(s.get(key)); }); }
  function setMeta(key, value) { return withStore("meta", "readwrite", function (s) { return req(s.put(value, key)); }); }
  function delMeta(key) { return withStore("meta", "readwrite", function (s) { return req(s["delete"](key)); }); }
  function entries() {
    return withStore("entries", "readonly", function (s) { return req(s.getAll()); })
      .then(function (all) { return all.sort(function (a, b) { return a.seq - b.seq; }); });
  }
  function putEntry(e) { return withStore("entries", "readwrite", function (s) { return req(s.put(e)); }); }
  function getEntry(uuid) { return withStore("entries", "readonly", function (s) { return req(s.get(uuid)); }); }
  function deleteEntry(uuid) { return withStore("entries", "readwrite", function (s) { return req(s["delete"](uuid)); }); }
  function wipe() {
    return new Promise(function (resolve) {
      var r = root.indexedDB.deleteDatabase(NAME);
      r.onsuccess = r.onerror = r.onblocked = function () { resolve(); };
    });
  }

  function uuid() {
    if (root.crypto && root.crypto.randomUUID) { return root.crypto.randomUUID(); }
    var b = new Uint8Array(16); root.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* What the server is sent: the entry without the phone's own bookkeeping. */
  function wire(e) {
    var out = {uuid: e.uuid, kind: e.kind, made_at: e.made_at, answers: e.answers || {}};
    if (e.participant) { out.participant = e.participant; } else if (e.after) { out.after = e.after; }
    if (e.timepoint) { out.timepoint = e.timepoint; }
    if (e.staff_ids && e.staff_ids.length) { out.staff_ids = e.staff_ids; }
    if (e.expected_version) { out.expected_version = e.expected_version; }
    if (e.made_by) { out.made_by = e.made_by; }
    return out;
  }

  function sendOne(e, csrf) {
    var body = new URLSearchParams();
    body.set("csrf_token", csrf || "");
    body.set("entry", JSON.stringify(wire(e)));
    return fetch("/offline/entries", {method: "POST", body: body, credentials: "same-origin",
                                      redirect: "manual", headers: {"Accept": "application/json"}})
      .then(function (res) {
        if (res.type === "opaqueredirect" || res.status === 403 || res.status === 401) { return {signin: true}; }
        if (res.status >= 500) { return {later: true}; }
        return res.json().then(function (body) { return {body: body, status: res.status}; },
                               function () { return {later: true}; });
      }, function () { return {offline: true}; });
  }

  var sending = null;
  /* Send every waiting entry, oldest first; resolves to a summary. One loop at a time. */
  function sendAll() {
    if (sending) { return sending; }
    var summary = {saved: 0, attention: 0, flagged: 0, stopped: ""};
    sending = getMeta("bundle").then(function (bundle) {
      var csrf = bundle ? bundle.csrf : "";
      function next() {
        return entries().then(function (all) {
          var e = all.filter(function (x) { return x.state === "waiting"; })[0];
          if (!e) { return summary; }
          return sendOne(e, csrf).then(function (r) {
            if (r.signin) { summary.stopped = "signin"; return summary; }
            if (r.offline) { summary.stopped = "offline"; return summary; }
            if (r.later) { summary.stopped = "server"; return summary; }
            return settle(e, r.body).then(function (kept) {
              if (kept) { summary.saved++; } else { summary.attention++; }
              if (kept && r.body.deviations && r.body.deviations.length) { summary.flagged++; }
              return next();
            });
          });
        });
      }
      return next();
    }).then(function (s) { sending = null; return s; }, function (err) { sending = null; throw err; });
    return sending;
  }

  /* Record the server's answer; true when the entry is saved (and gone from the phone). */
  function settle(e, body) {
    var outcome = body.outcome;
    if (outcome === "saved" || outcome === "already_saved") {
      var done = deleteEntry(e.uuid);
      if (e.kind !== "enrolment" || !body.participant_code) { return done.then(function () { return true; }); }
      /* Entries for someone enrolled on this phone now name the code, and wait again. */
      return done.then(entries).then(function (all) {
        return Promise.all(all.filter(function (x) { return x.after === e.uuid; }).map(function (x) {
          x.participant = body.participant_code;
          if (x.state === "attention" && x.outcome && x.outcome.outcome === "waiting") { x.state = "waiting"; x.outcome = null; }
          return putEntry(x);
        }));
      }).then(function () { return true; });
    }
    return getEntry(e.uuid).then(function (current) {
      if (!current) { return false; }
      current.state = outcome === "conflict" ? "conflict" : "attention";
      current.outcome = body;
      return putEntry(current).then(function () { return false; });
    });
  }

  root.OfflineQueue = {open: open, getMeta: getMeta, setMeta: setMeta, delMeta: delMeta,
                       entries: entries, putEntry: putEntry, getEntry: getEntry,
                       deleteEntry: deleteEntry, wipe: wipe, uuid: uuid, sendAll: sendAll,
                       NAME: NAME};
})(self);
