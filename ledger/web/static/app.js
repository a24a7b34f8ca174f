// The verify page polls its job while it runs, then reloads to show the result.
(function () {
  var box = document.getElementById("verify");
  if (!box || box.dataset.status !== "running") { return; }
  var seconds = document.getElementById("verify-seconds");
  var timer = setInterval(function () {
    fetch("/verify/status", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        if (seconds) { seconds.textContent = job.seconds; }
        if (job.status !== "running") { clearInterval(timer); window.location.reload(); }
      })
      .catch(function () { clearInterval(timer); });
  }, 700);
})();
