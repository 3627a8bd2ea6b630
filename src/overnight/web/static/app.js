/* overnight dashboard: live updates and keyboard shortcuts. No build step.
 *
 * One EventSource per page reads /events (server-sent events, resumed after
 * the last event the page was rendered with). Events become two htmx
 * triggers on <body>: "ov-changed" (any task) and "ov-task-<id>" (that task);
 * the live parts of each page listen for them and re-fetch themselves. A
 * lone event refreshes at once; a burst refreshes at most every 250 ms, and
 * the last event of a burst is never dropped.
 *
 * A task page that shows a queued or running task also reads the agent's
 * output as it is written (/api/tasks/<id>/output/stream) into
 * #live-output, until the stream says "end"; when the task changes and is
 * queued or running again, it reads on from the last chunk it showed.
 */
(function () {
  "use strict";
  var COOLDOWN_MS = 250;
  var timer = null;  // set while cooling down after a refresh
  var pending = false;  // events arrived during the cooldown
  var touched = new Set();
  var received = [];  // [{id, at}] of the last events, read by benchmarks/web.py
  window.overnightEvents = received;

  function flush() {
    var ids = Array.from(touched);
    touched.clear();
    pending = false;
    htmx.trigger(document.body, "ov-changed");
    ids.forEach(function (id) { htmx.trigger(document.body, "ov-task-" + id); });
    timer = setTimeout(function () {
      timer = null;
      if (pending) { flush(); }
    }, COOLDOWN_MS);
  }

  function changed(taskId) {
    touched.add(taskId);
    if (timer === null) { flush(); } else { pending = true; }
  }

  function connect() {
    if (!window.EventSource) { return; }
    var dot = document.getElementById("live-dot");
    var after = document.body.dataset.lastEvent || "";
    var source = new EventSource("/events" + (after ? "?after=" + encodeURIComponent(after) : ""));
    source.onopen = function () {
      if (dot) { dot.classList.add("on"); dot.title = "live updates: connected"; }
    };
    source.onerror = function () {
      if (dot) { dot.classList.remove("on"); dot.title = "live updates: reconnecting"; }
    };
    source.addEventListener("task", function (e) {
      var data = JSON.parse(e.data);
      received.push({ id: data.id, task: data.task, kind: data.kind, at: Date.now() });
      if (received.length > 200) { received.shift(); }
      changed(data.task);
    });
  }

  /* Task page: the agent's output as it comes. */
  function liveOutput() {
    var box = document.getElementById("live-output");
    if (!box || !window.EventSource) { return; }
    var text = document.getElementById("live-output-text");
    var state = document.getElementById("live-output-state");
    var taskId = box.dataset.task;
    var source = null, after = "", shown = "";
    function active() {
      var live = document.getElementById("task-live");
      var status = live ? live.dataset.status : "";
      return status === "queued" || status === "running";
    }
    function open() {
      if (source || !active()) { return; }
      box.hidden = false;
      source = new EventSource("/api/tasks/" + taskId + "/output/stream" +
                               (after ? "?after=" + encodeURIComponent(after) : ""));
      state.textContent = "live";
      source.addEventListener("output", function (e) {
        var data = JSON.parse(e.data);
        var where = "run " + data.run + " · attempt " + data.attempt;
        var atEnd = text.scrollHeight - text.scrollTop - text.clientHeight < 40;
        after = String(data.id);
        if (where !== shown) {
          shown = where;
          text.appendChild(document.createTextNode((text.textContent ? "\n" : "") + "── " + where + " ──\n"));
        }
        text.appendChild(document.createTextNode(data.text));
        if (atEnd) { text.scrollTop = text.scrollHeight; }
      });
      source.addEventListener("end", function () {
        source.close();
        source = null;
        state.textContent = "ended: the full transcript is in the timeline above";
      });
    }
    open();
    document.addEventListener("htmx:afterSwap", open);  // #task-live re-rendered: its status
  }

  /* Review queue: j/k move, o/Enter open, a approve (asks first), ? help. */
  function reviewKeys() {
    var selected = 0;
    function rows() { return Array.from(document.querySelectorAll("tr.review-item")); }
    function select(i) {
      var all = rows();
      if (!all.length) { return; }
      selected = Math.max(0, Math.min(i, all.length - 1));
      all.forEach(function (r, j) { r.classList.toggle("selected", j === selected); });
      all[selected].focus({ preventScroll: false });
    }
    document.addEventListener("htmx:afterSwap", function () { select(selected); });
    document.addEventListener("keydown", function (e) {
      var tag = (e.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) { return; }
      var row = rows()[selected];
      if (e.key === "j") { select(selected + 1); e.preventDefault(); }
      else if (e.key === "k") { select(selected - 1); e.preventDefault(); }
      else if ((e.key === "o" || e.key === "Enter") && row) { window.location.href = row.dataset.href; }
      else if (e.key === "a" && row) {
        if (window.confirm("Approve and merge task #" + row.dataset.id + "?")) {
          row.querySelector("form").submit();
        }
      } else if (e.key === "?") {
        var help = document.getElementById("keys-help");
        if (help && help.showModal) { help.showModal(); }
      }
    });
    select(0);
  }

  /* Log search: keeps the lines that contain the text (any case) and marks
   * each match. Marks are built as DOM nodes from the line's own text, never
   * as HTML, so a log cannot inject markup. */
  function searchLog(input) {
    var viewer = input.closest(".log-viewer");
    if (!viewer) { return; }
    var query = input.value.toLowerCase();
    var count = 0;
    viewer.querySelectorAll(".ll").forEach(function (line) {
      var body = line.querySelector(".lt");
      var text = body.textContent;
      var at = query ? text.toLowerCase().indexOf(query) : -1;
      line.hidden = Boolean(query) && at < 0;
      if (body.childElementCount || at >= 0) { body.replaceChildren(); }
      if (at < 0) { if (!body.firstChild) { body.textContent = text; } return; }
      count += 1;
      var from = 0;
      while (at >= 0) {
        body.append(document.createTextNode(text.slice(from, at)));
        var mark = document.createElement("mark");
        mark.textContent = text.slice(at, at + query.length);
        body.append(mark);
        from = at + query.length;
        at = text.toLowerCase().indexOf(query, from);
      }
      body.append(document.createTextNode(text.slice(from)));
    });
    var counter = viewer.querySelector(".log-count");
    if (counter) { counter.textContent = query ? count + " matching line(s)" : ""; }
  }

  document.addEventListener("input", function (e) {
    if (e.target.classList && e.target.classList.contains("log-search")) { searchLog(e.target); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    connect();
    liveOutput();
    if (document.body.dataset.page === "review") { reviewKeys(); }
  });
})();
