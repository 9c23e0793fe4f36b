// The demo inbox: polls the inbox state every second and renders it with
// DOM calls (customer text is never parsed as HTML); the composer posts
// answers, edits and deletions, which the demo portal makes as signed API
// calls.
"use strict";
(() => {
  const csrf = document.body.dataset.csrf;
  const $ = (id) => document.getElementById(id);
  let selected = "";
  let editing = null; // {request} while editing an answer
  let last = null;

  const el = (tag, props, ...kids) => {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    for (const k of kids) e.append(k);
    return e;
  };
  const time = (s) => new Date(s).toLocaleTimeString();

  async function post(path, fields) {
    const body = new URLSearchParams({ csrf, conversation: selected, ...fields });
    const r = await fetch(path, { method: "POST", body, credentials: "same-origin" });
    let out = {};
    try { out = await r.json(); } catch { out = { ok: r.ok, error: r.statusText }; }
    $("result").textContent = out.ok ? "" : "The gateway answered: " + (out.code ? out.code + ": " : "") + out.error;
    refresh();
    return out.ok;
  }

  function renderConversations(convs) {
    const ul = $("conversations");
    ul.replaceChildren();
    if (!convs.length) {
      ul.append(el("li", { className: "empty", textContent: "Nothing yet: write from the test site." }));
      return;
    }
    if (!selected || !convs.some((c) => c.key === selected)) selected = convs[0].key;
    for (const c of convs) {
      const lastItem = c.items[c.items.length - 1];
      const b = el("button", { type: "button" }, c.title, el("small", { textContent: c.connector + " · " + (lastItem ? lastItem.text.slice(0, 40) : "") }));
      b.setAttribute("aria-current", String(c.key === selected));
      b.dataset.key = c.key;
      b.addEventListener("click", () => { selected = c.key; editing = null; render(); });
      ul.append(el("li", {}, b));
    }
  }

  function renderMessages(conv) {
    const ol = $("messages");
    const atBottom = ol.scrollTop + ol.clientHeight >= ol.scrollHeight - 4;
    ol.replaceChildren();
    $("title").textContent = conv ? conv.title + " (" + conv.connector + ", chat " + conv.chat_id + ")" : "No conversation selected";
    $("send").disabled = !conv;
    if (!conv) return;
    for (const it of conv.items) {
      const li = el("li", { className: it.dir + (it.deleted ? " deleted" : "") });
      li.dataset.dir = it.dir;
      li.append(el("span", { className: "body", textContent: it.text }));
      let meta = time(it.at);
      if (it.dir === "out") meta += " · " + (it.deleted ? "deleted" : it.state) + (it.edited ? " · edited" : "");
      else if (it.edited) meta += " · edited";
      else if (it.deleted) meta += " · deleted";
      const m = el("span", { className: "meta", textContent: meta });
      if (it.error) m.append(el("span", { className: "error", textContent: " · " + it.error }));
      li.append(m);
      if (it.dir === "out" && it.state === "delivered" && !it.deleted) {
        const ed = el("button", { type: "button", textContent: "Edit" });
        ed.addEventListener("click", () => {
          editing = { request: it.request_id };
          $("text").value = it.text;
          $("mode").textContent = "Edit your answer";
          $("cancel").hidden = false;
          $("text").focus();
        });
        const del = el("button", { type: "button", textContent: "Delete" });
        del.addEventListener("click", () => post("delete", { request: it.request_id }));
        li.append(el("span", {}, ed, del));
      }
      ol.append(li);
    }
    if (atBottom) ol.scrollTop = ol.scrollHeight;
  }

  function renderEvents(events) {
    const tb = $("events");
    tb.replaceChildren();
    for (const e of events.slice(0, 50)) {
      tb.append(el("tr", {}, el("td", { textContent: time(e.received_at) }), el("td", { textContent: e.type }),
        el("td", {}, el("code", { textContent: e.id })), el("td", {}, el("code", { textContent: e.batch }))));
    }
  }

  function render() {
    if (!last) return;
    renderConversations(last.conversations);
    renderMessages(last.conversations.find((c) => c.key === selected));
    renderEvents(last.events);
    const s = $("setup");
    s.hidden = !last.setup_error;
    s.textContent = last.setup_error ? "Setting up: " + last.setup_error : "";
  }

  async function refresh() {
    try {
      const r = await fetch("state", { credentials: "same-origin", cache: "no-store" });
      if (r.redirected || !r.ok) return;
      last = await r.json();
      render();
    } catch { /* next tick */ }
  }

  function stopEditing() {
    editing = null;
    $("mode").textContent = "Answer";
    $("cancel").hidden = true;
  }

  $("cancel").addEventListener("click", () => { stopEditing(); $("text").value = ""; });
  $("composer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (!text || !selected) return;
    const ok = editing ? await post("edit", { request: editing.request, text }) : await post("reply", { text });
    if (ok) { $("text").value = ""; stopEditing(); }
  });
  $("text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("composer").requestSubmit();
  });
  refresh();
  setInterval(refresh, 1000);
})();
