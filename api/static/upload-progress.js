// The upload page while its rows are registered: polls the upload's progress (JSON) and shows
// it; once every row is done, reloads the page, which then lists every row's outcome.
(function () {
  "use strict";
  var box = document.getElementById("upload-progress");
  if (!box) return;
  var bar = document.getElementById("upload-bar");
  var count = document.getElementById("upload-count");
  var words = count.getAttribute("data-text");

  function show(upload) {
    bar.max = upload.total_rows;
    bar.value = upload.done_rows;
    count.textContent = words.replace("{done}", upload.done_rows).replace("{total}", upload.total_rows);
  }

  function poll() {
    fetch(box.getAttribute("data-poll"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (upload) {
        if (upload) {
          show(upload);
          if (upload.status === "done") { window.location.reload(); return; }
        }
        window.setTimeout(poll, 400);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 400);
})();
