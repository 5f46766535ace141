/* ccb's only script of its own. Loaded from our origin, so the Content-Security-Policy allows it. */
(function () {
  "use strict";
  // Times are shown in the viewer's zone: tell the server which one (ViewerTimezoneMiddleware reads it).
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz && document.cookie.indexOf("tz=" + tz) < 0) {
    document.cookie = "tz=" + tz + ";path=/;SameSite=Lax";
  }

  // An in-place form whose answer could not be shown (a server error, or no connection): say so
  // where the person acted rather than leaving the page as it was.
  function showProblem(evt, text) {
    var target = evt.detail.target || evt.target;
    if (!target || !target.parentNode) { return; }
    var note = document.createElement("p");
    note.className = "alert alert-error";
    note.setAttribute("role", "alert");
    note.setAttribute("data-problem", "");
    note.textContent = text;
    var old = target.parentNode.querySelector(":scope > [data-problem]");
    if (old) { old.remove(); }
    target.parentNode.insertBefore(note, target);
  }
  document.addEventListener("htmx:responseError", function (evt) {
    showProblem(evt, "ccb could not do that (error " + evt.detail.xhr.status + "). Nothing was saved; reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function (evt) {
    showProblem(evt, "ccb could not be reached. Check your connection and try again.");
  });
})();
