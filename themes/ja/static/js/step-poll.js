// Lets a waiting step page continue by itself (SPEC §2 step 8): every few seconds it asks the
// element's data-poll-url whether the step is still needed, and reloads the page once the
// answer is {"needed": false} (e.g. the email link was opened in another tab or browser).
(function () {
  var GIVE_UP_AFTER_MS = 30 * 60 * 1000;

  function watch(element) {
    var url = element.getAttribute("data-poll-url");
    var seconds = parseInt(element.getAttribute("data-poll-seconds"), 10) || 5;
    var started = Date.now();
    var asking = false;
    var timer = setInterval(ask, seconds * 1000);

    function stop() {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", askWhenShown);
    }

    function ask() {
      if (Date.now() - started > GIVE_UP_AFTER_MS) { stop(); return; }
      // A hidden tab need not ask; it asks at once when the member comes back to it.
      if (asking || document.hidden) { return; }
      asking = true;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          // A refused poll (e.g. the sign-in expired) will not change: the page's buttons say why.
          if (response.status >= 400 && response.status < 500) { stop(); return null; }
          return response.ok ? response.json() : null;
        })
        .then(function (answer) {
          if (answer && answer.needed === false) { stop(); location.replace(location.href); } // a GET, never a re-sent form
        })
        .catch(function () { /* offline for a moment: ask again at the next tick */ })
        .then(function () { asking = false; });
    }

    function askWhenShown() {
      if (!document.hidden) { ask(); }
    }

    document.addEventListener("visibilitychange", askWhenShown);
  }

  if (!window.fetch) { return; }
  document.querySelectorAll("[data-poll-url]").forEach(watch);
})();
