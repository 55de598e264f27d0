// Third-party-cookie check, step 2: tells the framing page whether step 1's cookie came back
// ("supported") or the browser blocked it ("unsupported"), then removes the cookie.
(function () {
  var supported = document.cookie.split("; ").indexOf("KC_IDP_3P_CHECK=supported") !== -1;
  var secure = window.location.protocol === "https:" ? "; SameSite=None; Secure" : "";
  document.cookie = "KC_IDP_3P_CHECK=; Max-Age=0; Path=/" + secure;
  // Nothing secret is sent, and the framing page's origin is not known here: any origin may read it.
  window.parent.postMessage(supported ? "supported" : "unsupported", "*");
})();
