// The verify page polls its job while it runs (positions checked of the total), then
// reloads to show the result.
(function () {
  var box = document.getElementById("verify");
  if (!box || box.dataset.status !== "running") { return; }
  var number = function (n) { return Number(n).toLocaleString("en-GB"); };
  var set = function (id, text) {
    var element = document.getElementById(id);
    if (element) { element.textContent = text; }
  };
  var bar = document.getElementById("verify-progress");
  var timer = setInterval(function () {
    fetch("/verify/status", {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        set("verify-checked", number(job.checked));
        set("verify-positions", number(job.positions));
        set("verify-percent", job.percent);
        set("verify-seconds", job.seconds);
        if (bar) { bar.max = Math.max(job.positions, 1); bar.value = job.checked; }
        if (job.status !== "running") { clearInterval(timer); window.location.reload(); }
      })
      .catch(function () { clearInterval(timer); });
  }, 500);
})();
