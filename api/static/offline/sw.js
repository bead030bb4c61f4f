/* Service worker of the offline app: keeps the app shell (page, scripts, styles, icons)
 * so that /offline/ opens with no network, and sends waiting entries when the browser
 * says the network is back (Background Sync). Study data are never cached here: the
 * participant list and the queue live in IndexedDB (static/offline/queue.js) and are
 * wiped at sign-out. Only the shell's own URLs are intercepted.
 */
/* global OfflineQueue */
importScripts("/static/offline/queue.js");

var CACHE = "outsider-shell-v1";
var SHELL = ["/offline/", "/static/app.css", "/static/words.js", "/static/logic.js",
             "/static/branching.js",
             "/static/offline/queue.js", "/static/offline/app.js", "/static/offline/offline.css",
             "/offline/manifest.webmanifest", "/static/icons/icon-192.png",
             "/static/icons/icon-512.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || SHELL.indexOf(url.pathname) < 0) { return; }
  /* Network first (fresh when online), the kept copy when there is no network. */
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (c) { return c.put(url.pathname, copy); });
    }
    return response;
  }, function () {
    return caches.match(url.pathname).then(function (hit) {
      /* The one sentence the worker writes itself, when no page is kept yet (so no page's
         words either): in the phone's language, French or English. */
      var french = /^fr/i.test((self.navigator && self.navigator.language) || "");
      return hit || new Response(french ? "Hors ligne, et pas encore gardé sur ce téléphone."
        : "Offline and not yet kept on this phone.",
        {status: 503, headers: {"Content-Type": "text/plain; charset=utf-8"}});
    });
  }));
});

self.addEventListener("sync", function (event) {
  if (event.tag === "send-entries") {
    event.waitUntil(OfflineQueue.sendAll().then(function () {
      return self.clients.matchAll().then(function (clients) {
        clients.forEach(function (c) { c.postMessage({type: "sent"}); });
      });
    }));
  }
});
