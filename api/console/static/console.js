// Connector gateway console: self-refreshing status, copy buttons, and the
// wizard's live "first message" check. No framework, no build step.
(function () {
  "use strict";

  // A fetch that lands on the sign-in page means the session ended: reload,
  // which shows the sign-in page with a way back here.
  function signedOut(res) {
    return res.redirected && res.url.indexOf("/console/login") !== -1;
  }

  function problems(box) {
    var p = box.querySelector("[data-problems]");
    return p ? p.textContent : "";
  }

  // Status page: replace #status with a fresh copy every few seconds. A
  // round is skipped while the keyboard focus is inside it (so the focus
  // is not lost) or while the tab is hidden.
  function refreshStatus() {
    var box = document.getElementById("status");
    if (!box) return;
    var src = box.getAttribute("data-refresh-src");
    var every = parseInt(box.getAttribute("data-refresh-ms"), 10) || 5000;
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden || box.contains(document.activeElement)) return;
      busy = true;
      fetch(src, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (res) {
          if (signedOut(res)) { location.reload(); return null; }
          return res.ok ? res.text() : null;
        })
        .then(function (html) {
          if (html !== null) {
            var before = problems(box);
            box.innerHTML = html;
            box.setAttribute("data-refreshed", String(Date.now()));
            // Screen readers hear only a change of the summary, not every
            // refresh: the live region sits outside the replaced part.
            var after = problems(box);
            var say = document.getElementById("status-announce");
            if (say && after !== before) say.textContent = "Status changed: " + after;
          }
        })
        .catch(function () { /* the next round tries again */ })
        .then(function () { busy = false; });
    }, every);
  }

  // Copy buttons: data-copy names the input whose value is copied.
  function copyButtons() {
    document.addEventListener("click", function (ev) {
      var btn = ev.target.closest ? ev.target.closest("[data-copy]") : null;
      if (!btn) return;
      var input = document.getElementById(btn.getAttribute("data-copy"));
      if (!input) return;
      var done = function () {
        var label = btn.textContent;
        btn.textContent = "Copied";
        btn.classList.add("copied");
        setTimeout(function () { btn.textContent = label; btn.classList.remove("copied"); }, 2000);
      };
      input.focus();
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          if (document.execCommand("copy")) done();
        });
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  }

  function setStep(box, name, state, text) {
    var p = box.querySelector('[data-step="' + name + '"]');
    if (!p) return;
    p.className = "step " + state;
    p.querySelector(".mark").textContent = state === "ok" ? "✓" : state === "bad" ? "!" : "…";
    p.querySelector(".text").textContent = text;
  }

  // The wizard's last step: poll until the first message arrived and the
  // portal acknowledged it.
  function firstMessage() {
    var box = document.getElementById("first-message");
    if (!box) return;
    var src = box.getAttribute("data-received-src");
    var timer = setInterval(poll, 1500);
    function poll() {
      fetch(src, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) {
          if (signedOut(res)) { location.reload(); return null; }
          return res.ok ? res.json() : null;
        })
        .then(function (st) {
          if (!st) return;
          if (!st.received) return;
          var at = new Date(st.received_at);
          setStep(box, "received", "ok", "Message received at " + at.toISOString().slice(11, 19) + " UTC.");
          if (st.delivered) {
            setStep(box, "delivered", "ok", "Delivered to your portal, which acknowledged it. All set!");
            box.className = "check ok";
            clearInterval(timer);
          } else if (st.delivery_error) {
            setStep(box, "delivered", "bad", "Your portal did not accept it yet: " + st.delivery_error +
              (st.locked_until ? " The gateway tries again at " + new Date(st.locked_until).toISOString().slice(11, 19) + " UTC." : ""));
            box.className = "check received";
          } else {
            setStep(box, "delivered", "waiting", "Delivering it to your portal…");
            box.className = "check received";
          }
        })
        .catch(function () { /* try again on the next tick */ });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    refreshStatus();
    copyButtons();
    firstMessage();
  });
})();
