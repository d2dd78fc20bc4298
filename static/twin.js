/* The building view's live updates: one EventSource per open page; each event carries the
   whole live fragment, swapped in place. The browser reconnects by itself after a drop
   (sending Last-Event-ID, so the server sends the state only if it changed); after a refusal
   (503: the server is full) it tries again later. Plain ES5 for cheap phones; no polling. */
(function () {
  "use strict";
  var box = document.getElementById("twin-live");
  if (!box || !window.EventSource) { return; }
  var status = document.getElementById("twin-status");
  var readAt = document.getElementById("twin-read-at");  /* the time of reading: for the page without updates */
  var homes = (box.getAttribute("data-homes") || "").split(" ");
  var retryLater = 30000;

  function say(attribute) {
    if (status) { status.textContent = status.getAttribute(attribute) || ""; }
  }

  function markHomes() {
    for (var i = 0; i < homes.length; i++) {
      if (!homes[i]) { continue; }
      var cell = box.querySelector('[data-apartment="' + homes[i] + '"]');
      if (cell) { cell.className += " home"; }
    }
  }

  function swap(html) {
    var details = box.getElementsByTagName("details"), open = [], i;
    for (i = 0; i < details.length; i++) { open.push(details[i].open); }
    box.innerHTML = html;
    details = box.getElementsByTagName("details");
    for (i = 0; i < details.length && i < open.length; i++) { details[i].open = open[i]; }
    markHomes();
  }

  function connect() {
    var source = new EventSource(box.getAttribute("data-live"));
    source.onopen = function () {
      say("data-live-text");
      if (readAt) { readAt.hidden = true; }
    };
    source.onmessage = function (event) {
      swap(event.data);
      box.setAttribute("data-event-id", event.lastEventId);
    };
    source.onerror = function () {
      say("data-lost-text");
      if (readAt) { readAt.hidden = false; }
      if (source.readyState === 2) {  /* CLOSED: refused, not dropped; the browser gave up */
        source.close();
        window.setTimeout(connect, retryLater);
      }
    };
  }

  connect();
}());
