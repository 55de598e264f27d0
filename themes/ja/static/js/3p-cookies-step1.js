// Third-party-cookie check, step 1 (what keycloak-js frames): sets a short-lived test cookie as a
// third party would (SameSite=None over https) and goes on to step 2, which looks for it.
(function () {
  var secure = window.location.protocol === "https:" ? "; SameSite=None; Secure" : "";
  document.cookie = "KC_IDP_3P_CHECK=supported; Max-Age=60; Path=/" + secure;
  window.location.replace(document.body.getAttribute("data-next-url"));
})();
