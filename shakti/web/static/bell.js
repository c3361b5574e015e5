// The notification bell's unread count, kept live by Server-Sent Events from /notifications/live.
// Without this script the bell still links to the list, which shows the count.
(function () {
  "use strict";
  var count = document.getElementById("bell-count");
  if (!count || !window.EventSource) {
    return;
  }
  var source = new EventSource("/notifications/live");
  source.addEventListener("unread", function (event) {
    count.textContent = event.data;
    count.hidden = event.data === "0";
  });
})();
