// trustwatch console: keyboard shortcuts for the queue. No inline script is
// used anywhere (the content security policy forbids it), and nothing here
// reads data into HTML: rows carry their own links, built by the server.
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "SELECT" ||
                 t.tagName === "TEXTAREA" || t.isContentEditable);
  }

  function setupQueue(table) {
    var rows = Array.prototype.slice.call(table.querySelectorAll("tr.case-row"));
    var current = -1;

    function select(index) {
      if (!rows.length) { return; }
      index = Math.max(0, Math.min(rows.length - 1, index));
      if (current >= 0) { rows[current].classList.remove("selected"); }
      current = index;
      rows[current].classList.add("selected");
      rows[current].scrollIntoView({ block: "nearest" });
    }

    rows.forEach(function (row, index) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a, button, input, form")) { return; }
        select(index);
      });
    });

    document.addEventListener("keydown", function (event) {
      if (typing(event) || event.altKey || event.ctrlKey || event.metaKey) { return; }
      var row = current >= 0 ? rows[current] : null;
      switch (event.key) {
        case "j": select(current + 1); break;
        case "k": select(current < 0 ? 0 : current - 1); break;
        case "Enter":
          if (row) { window.location.assign(row.dataset.href); } else { return; }
          break;
        case "a":
          var take = row && row.querySelector("form.assign-me");
          if (take) { take.submit(); } else { return; }
          break;
        case "r":
          if (row && table.dataset.canResolve === "1") {
            window.location.assign(row.dataset.href + "#resolve");
          } else { return; }
          break;
        default: return;
      }
      event.preventDefault();
    });
    if (rows.length) { select(0); }
  }

  function setupCase() {
    var label = document.getElementById("label");
    if (!label || window.location.hash !== "#resolve") { return; }
    // Scrolling to the fragment moves focus to it after the page loads, so
    // focus the label field once that is done.
    window.addEventListener("load", function () {
      window.setTimeout(function () { label.focus(); }, 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var queue = document.getElementById("queue");
    if (queue) { setupQueue(queue); }
    setupCase();
  });
}());
