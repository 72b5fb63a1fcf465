// The agent's case page: keeps this agent's presence fresh while the page is open, says
// "replying" once the reply box has text, and shows who else has the case open (the
// collision notice) as the server answers. Without JavaScript the page still shows the
// notice as it was when the page was loaded.
(function () {
  "use strict";
  var region = document.getElementById("presence");
  if (!region) return;
  var url = region.getAttribute("data-presence");
  var every = Number(region.getAttribute("data-every")) || 30000;
  var openText = region.getAttribute("data-open");
  var replyingText = region.getAttribute("data-replying");
  var box = document.getElementById("f-note");
  var replying = !!(box && box.value.trim());

  function show(others) {
    region.textContent = "";
    others.forEach(function (other) {
      var line = document.createElement("p");
      line.textContent = (other.replying ? replyingText : openText).replace("{name}", other.agent);
      region.appendChild(line);
    });
    region.hidden = others.length === 0;
  }

  function beat() {
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ replying: replying })
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (others) { if (others) show(others); })
      .catch(function () {});
  }

  if (box) {
    box.addEventListener("input", function () {
      var now = box.value.trim() !== "";
      if (now !== replying) { replying = now; beat(); }
    });
  }
  window.setInterval(beat, every);
})();
