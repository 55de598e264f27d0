// Opens the sign-out dialog from the member's name. Without this script (or without
// <dialog> support) the name stays a plain link to the /logout/confirm page.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-opens-dialog]").forEach(function (opener) {
    var dialog = document.getElementById(opener.getAttribute("data-opens-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") {
      return;
    }
    opener.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
    });
  });
});
