// Pasar's own small script: a live countdown to a payment's deadline and copy buttons.
// Every page works without it (the deadline is shown as text, keys are selectable text).
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function tick(time) {
    var left = Math.max(0, Math.floor((Date.parse(time.getAttribute("data-expires")) - Date.now()) / 1000));
    var out = time.parentNode.querySelector(".countdown");
    if (!out) { return; }
    var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    out.textContent = "(" + (h > 0 ? h + ":" + pad(m) : String(m)) + ":" + pad(s) + ")";
  }

  function countdowns(root) {
    var times = root.querySelectorAll("time[data-expires]");
    for (var i = 0; i < times.length; i++) { tick(times[i]); }
  }

  function copyButtons(root) {
    var buttons = root.querySelectorAll("button.copy[data-copy-from]");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      if (!navigator.clipboard || button.getAttribute("data-ready")) { continue; }
      button.setAttribute("data-ready", "1");
      button.hidden = false;
      button.addEventListener("click", function (event) {
        var clicked = event.currentTarget;
        var source = document.getElementById(clicked.getAttribute("data-copy-from"));
        if (!source) { return; }
        var label = clicked.textContent;
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          clicked.textContent = "✓ " + label;
          setTimeout(function () { clicked.textContent = label; }, 1500);
        });
      });
    }
  }

  function start() {
    countdowns(document);
    copyButtons(document);
    setInterval(function () { countdowns(document); }, 1000);
    document.body.addEventListener("htmx:afterSwap", function (event) { copyButtons(event.target); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
