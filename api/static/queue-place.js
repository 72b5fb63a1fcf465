// The waiting room's position page: asks the server where this place stands as often as the
// server suggests (rarely far back in the line, often near the front), updates the line in
// place, and reloads the page when the place's status changes (the turn came, the seats went).
// Without JavaScript the page still works: "Check my place" reloads it.
(function () {
  "use strict";
  var region = document.getElementById("position");
  if (!region || !region.getAttribute("data-check")) return;
  var url = region.getAttribute("data-check");
  var shown = region.getAttribute("data-status");

  function later(seconds) {
    window.setTimeout(check, Math.max(3, Number(seconds) || 10) * 1000);
  }

  function check() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (place) {
        if (!place) return later(30);
        if (place.status !== shown) return window.location.reload();
        if (place.text) region.textContent = place.text;
        later(place.check_again_seconds);
      })
      .catch(function () { later(30); });
  }

  later(region.getAttribute("data-every"));
})();
