// Sends the authorization response on to the relying party as soon as the page loads (Form Post
// Response Mode); without script the member presses the page's button instead.
(function () {
  var form = document.getElementById("form-post-response");
  if (form) { form.submit(); }
})();
