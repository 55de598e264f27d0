// Show/hide the password (the eye button of SPEC §1). The button stays hidden without JavaScript.
document.querySelectorAll("[data-toggle-password]").forEach(function (button) {
  var input = document.getElementById(button.getAttribute("data-toggle-password"));
  if (!input) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    var showing = input.type === "text";
    input.type = showing ? "password" : "text";
    button.setAttribute("aria-pressed", showing ? "false" : "true");
    button.setAttribute("aria-label", button.getAttribute(showing ? "data-label-show" : "data-label-hide"));
    input.focus();
  });
});
