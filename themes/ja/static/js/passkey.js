// Passkey ceremonies (SPEC §4). The page carries the server's options as JSON in
// <script type="application/json" id="passkey-options" data-ceremony="create|get|login">; the
// #passkey-start button runs the browser's dialog, and its answer (or the name of the error it
// ended with, e.g. NotAllowedError when cancelled) is posted back in hidden fields.
// "login" pages also offer the member's passkeys in the user ID field's autofill.
(function () {
  var holder = document.getElementById("passkey-options");
  var button = document.getElementById("passkey-start");
  if (!holder || !button) { return; }
  var form = button.form;
  var ceremony = holder.getAttribute("data-ceremony");
  var options = JSON.parse(holder.textContent).publicKey;
  var pending = null;

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }

  function creationOptions() {
    var copy = Object.assign({}, options);
    copy.challenge = toBytes(options.challenge);
    copy.user = Object.assign({}, options.user, { id: toBytes(options.user.id) });
    copy.excludeCredentials = withIds(options.excludeCredentials);
    return copy;
  }

  function requestOptions() {
    var copy = Object.assign({}, options);
    copy.challenge = toBytes(options.challenge);
    if (options.allowCredentials) { copy.allowCredentials = withIds(options.allowCredentials); }
    return copy;
  }

  function answer(credential) {
    var response = credential.response;
    var json = {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: {},
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      json.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return json;
  }

  function post(name, value) {
    form.elements[name].value = value;
    form.submit();
  }

  function run(mediation) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      return Promise.reject({ name: "NotSupportedError" });
    }
    if (ceremony === "create") {
      return navigator.credentials.create({ publicKey: creationOptions() });
    }
    if (pending) { pending.abort(); }
    pending = window.AbortController ? new AbortController() : null;
    var request = { publicKey: requestOptions(), signal: pending ? pending.signal : undefined };
    if (mediation) { request.mediation = mediation; }
    return navigator.credentials.get(request);
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    run(null).then(
      function (credential) { post("credential", JSON.stringify(answer(credential))); },
      function (error) { post("webauthn_error", (error && error.name) || "Error"); }
    );
  });

  // Without passkey support the sign-in page stays the plain user ID and password form.
  if (ceremony === "login") {
    if (!window.PublicKeyCredential) { return; }
    button.hidden = false;
    var username = form.elements.username;
    if (username) { username.setAttribute("autocomplete", "username webauthn"); }
  }

  // Autofill: the browser lists the member's passkeys under the user ID field; a modal request
  // started by the button aborts this one, so its errors are not the member's.
  if (ceremony === "login" && typeof PublicKeyCredential.isConditionalMediationAvailable === "function") {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) { return; }
      run("conditional").then(
        function (credential) { post("credential", JSON.stringify(answer(credential))); },
        function () {}
      );
    });
  }
})();
