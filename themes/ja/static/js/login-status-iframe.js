// The session-status iframe (OpenID Connect Session Management §4.1, Keycloak's protocol): the
// relying party's page posts "client_id session_state"; the answer is "unchanged" while this
// browser's SSO session is the one named, "changed" when it is another or none, and "error" when
// the client does not list the page's origin among its web origins.
(function () {
  var initUrl = document.body.getAttribute("data-init-url");
  var cookieName = document.body.getAttribute("data-state-cookie");
  var originChecks = {};

  function originAllowed(clientId, origin) {
    var key = clientId + " " + origin;
    if (!originChecks[key]) {
      var url = initUrl + "?client_id=" + encodeURIComponent(clientId) + "&origin=" + encodeURIComponent(origin);
      originChecks[key] = fetch(url, {credentials: "same-origin"}).then(function (response) {
        return response.status === 204;
      });
    }
    return originChecks[key];
  }

  function stateCookie() {
    var prefix = cookieName + "=";
    var found = document.cookie.split("; ").filter(function (part) { return part.indexOf(prefix) === 0; });
    return found.length ? found[0].substring(prefix.length) : "";
  }

  function hashOf(sessionState) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(sessionState)).then(function (digest) {
      var text = String.fromCharCode.apply(null, new Uint8Array(digest));
      return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    });
  }

  function sessionStatus(sessionState) {
    var cookie = stateCookie();
    if (!sessionState) { return Promise.resolve(cookie ? "changed" : "unchanged"); }
    if (!cookie) { return Promise.resolve("changed"); }
    return hashOf(sessionState).then(function (hash) { return hash === cookie ? "unchanged" : "changed"; });
  }

  window.addEventListener("message", function (event) {
    if (typeof event.data !== "string" || !event.source) { return; }
    var parts = event.data.split(" ");
    var clientId = parts[0];
    var sessionState = parts[1] || "";
    function reply(answer) { event.source.postMessage(answer, event.origin); }
    if (!clientId) { reply("error"); return; }
    originAllowed(clientId, event.origin).then(function (allowed) {
      return allowed ? sessionStatus(sessionState) : "error";
    }).then(reply, function () { reply("error"); });
  });
})();
