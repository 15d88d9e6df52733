// Live progress without a reload, over server-sent events. The page works without it (a
// reload shows the same state); this only keeps it current.
//
//   <section data-live-src="/api/jobs/ID/events" data-live-final="completed failed"
//            data-live-refresh-on="status failed_count">
//     <span data-live-text="processed_count">    text from the event's JSON (dotted keys)
//     <span data-live-percent="progress">        a fraction shown as a whole percentage
//     <progress data-live-value="progress">      a progress bar's value
//     <div id="..." data-live-region>            re-read from the server (this page's own
//                                                address, or data-live-page's) when a
//                                                refresh-on key changes, and once the work
//                                                is over
(function () {
  "use strict";

  function lookup(state, key) {
    return key.split(".").reduce(function (value, part) {
      return value === null || value === undefined ? value : value[part];
    }, state);
  }

  function percent(value) {
    return Math.floor(Number(value || 0) * 100) + "%";
  }

  function apply(root, state) {
    root.querySelectorAll("[data-live-text]").forEach(function (el) {
      var value = lookup(state, el.getAttribute("data-live-text"));
      if (value !== undefined && value !== null) {
        el.textContent = String(value);
      }
    });
    root.querySelectorAll("[data-live-percent]").forEach(function (el) {
      el.textContent = percent(lookup(state, el.getAttribute("data-live-percent")));
    });
    root.querySelectorAll("[data-live-value]").forEach(function (el) {
      var value = Number(lookup(state, el.getAttribute("data-live-value")) || 0);
      el.value = value;
      el.setAttribute("value", String(value));
      el.setAttribute("aria-valuetext", percent(value));
    });
    root.querySelectorAll("[data-live-status]").forEach(function (el) {
      var status = String(lookup(state, el.getAttribute("data-live-status")) || "");
      el.className = "status status-" + status;
    });
  }

  function refresh(root) {
    var regions = root.querySelectorAll("[data-live-region][id]");
    if (!regions.length) {
      return Promise.resolve();
    }
    var page = root.getAttribute("data-live-page") || window.location.href;
    return fetch(page, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (answer) { return answer.ok ? answer.text() : ""; })
      .then(function (html) {
        if (!html) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (el) {
          var other = fresh.getElementById(el.id);
          if (other && other.innerHTML !== el.innerHTML) {
            el.innerHTML = other.innerHTML;
          }
        });
      })
      .catch(function () { /* the next event tries again */ });
  }

  function follow(root) {
    var finals = (root.getAttribute("data-live-final") || "").split(/\s+/).filter(Boolean);
    var keys = (root.getAttribute("data-live-refresh-on") || "").split(/\s+/).filter(Boolean);
    var source = new EventSource(root.getAttribute("data-live-src"));
    var seen = null;
    var pending = null;

    function changed(state) {
      var now = JSON.stringify(keys.map(function (key) { return lookup(state, key); }));
      var before = seen;
      seen = now;
      return before !== now; // the first event too: the page may be older than the stream
    }

    function later() {
      if (pending === null) {
        pending = setTimeout(function () {
          pending = null;
          refresh(root);
        }, 300);
      }
    }

    source.addEventListener("progress", function (message) {
      var state = JSON.parse(message.data);
      apply(root, state);
      if (changed(state)) {
        later();
      }
    });
    finals.forEach(function (name) {
      source.addEventListener(name, function (message) {
        source.close(); // the work is over: no reconnection
        if (message.data) {
          apply(root, JSON.parse(message.data));
        }
        refresh(root).then(function () {
          root.setAttribute("data-live-done", name);
        });
      });
    });
  }

  document.querySelectorAll("[data-live-src]").forEach(follow);
})();
