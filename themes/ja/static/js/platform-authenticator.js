// Offer 生体認証 only where the browser reports a platform authenticator (SPEC §2 step 9).
// The passkey choice is rendered hidden and disabled; without this script it stays so, and
// the server refuses a passkey choice that lacks platform_authenticator=1.
(function () {
  var wrapper = document.getElementById("passkey-choice");
  var flag = document.getElementById("platform-authenticator");
  if (!wrapper || !flag) { return; }
  var radio = wrapper.querySelector("input[type=radio]");
  var note = document.getElementById("passkey-unavailable");

  function offer(available) {
    radio.disabled = !available;
    if (!available) { radio.checked = false; }
    wrapper.hidden = !available;
    flag.value = available ? "1" : "";
    if (note) { note.hidden = available; }
  }

  var credential = window.PublicKeyCredential;
  if (!credential || typeof credential.isUserVerifyingPlatformAuthenticatorAvailable !== "function") {
    offer(false);
    return;
  }
  credential.isUserVerifyingPlatformAuthenticatorAvailable().then(
    function (available) { offer(available === true); },
    function () { offer(false); }
  );
})();
