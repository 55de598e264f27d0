// ワンタイムパスワードの設定 (SPEC §5): スキャンできませんか? switches step 2 from the QR code to the
// key as text, and back; the copy button puts the key (without spaces) on the clipboard.
// Without this script both the QR code and the key are shown and the copy button stays hidden.
(function () {
  var scan = document.getElementById("totp-scan");
  var manual = document.getElementById("totp-manual");
  var showKey = document.getElementById("totp-show-key");
  var showQr = document.getElementById("totp-show-qr");
  if (!scan || !manual || !showKey || !showQr) { return; }

  function show(keyAsText) {
    scan.hidden = keyAsText;
    manual.hidden = !keyAsText;
    (keyAsText ? manual : showKey).focus();
  }

  manual.hidden = true;
  showQr.hidden = false;
  showKey.addEventListener("click", function (event) { event.preventDefault(); show(true); });
  showQr.addEventListener("click", function (event) { event.preventDefault(); show(false); });

  var copy = document.getElementById("totp-copy");
  var status = document.getElementById("totp-copy-status");
  if (!copy || !navigator.clipboard || !window.isSecureContext) { return; }
  copy.hidden = false;
  copy.addEventListener("click", function () {
    navigator.clipboard.writeText(copy.getAttribute("data-copy")).then(function () {
      if (status) { status.textContent = copy.getAttribute("data-copied"); }
    });
  });
})();
