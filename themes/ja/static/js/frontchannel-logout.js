// Front-channel logout: once every framed client logout page has loaded (or after a few seconds,
// so one unreachable client cannot hold the member), go on to where the relying party asked.
(function () {
  var WAIT_AT_MOST_MS = 3000;
  var link = document.getElementById("logout-continue");
  if (!link) { return; }
  var frames = document.querySelectorAll("iframe.frontchannel-logout");
  var waiting = frames.length;
  var gone = false;

  function goOn() {
    if (gone) { return; }
    gone = true;
    window.location.replace(link.href);
  }

  Array.prototype.forEach.call(frames, function (frame) {
    frame.addEventListener("load", function () {
      waiting -= 1;
      if (waiting <= 0) { goOn(); }
    });
  });
  if (waiting === 0) { goOn(); }
  setTimeout(goOn, WAIT_AT_MOST_MS);
})();
