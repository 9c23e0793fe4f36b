/* Connector gateway web chat widget: plain JavaScript, no dependencies, no build step.
 * Embed: <script src="https://GATEWAY/widget.js" data-widget="ID" async></script>
 * Whatever visitors or agents write is put on the page as text (textContent and
 * text nodes), never parsed as HTML. The panel lives in a shadow root, so the
 * host page's CSS does not reach it and its CSS does not reach the page. */
(function () {
  'use strict';
  // Tag managers that insert the snippet by script still set currentScript; the query is a fallback.
  var me = document.currentScript || document.querySelector('script[data-widget][src*="/widget.js"]');
  var wid = me && me.getAttribute('data-widget');
  if (!wid || !window.WebSocket || !window.fetch || !document.documentElement.attachShadow) return;
  if (document.querySelector('cgw-chat[data-widget="' + CSS.escape(wid) + '"]')) return; // the snippet pasted twice
  var api = me.src.replace(/\/widget\.js(?:[?#].*)?$/, '') + '/widget/' + encodeURIComponent(wid);
  var KEY = 'cgw-chat:' + wid + ':', NS = 'http://www.w3.org/2000/svg';
  var CLIP = 'M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6h-1.5z';
  var STYLE = ':host{all:initial}' +
    '*{box-sizing:border-box;margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330}' +
    '.l{position:fixed;bottom:20px;right:20px;width:56px;height:56px;border-radius:50%;border:0;padding:0;background:var(--c);cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000;display:flex;align-items:center;justify-content:center}' +
    '.left .l,.left .p{right:auto;left:20px}svg{width:26px;height:26px;fill:var(--t)}' +
    '.b{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#d93025;color:#fff;font-size:12px;font-weight:700;line-height:20px}' +
    '.p{position:fixed;bottom:88px;right:20px;width:360px;height:520px;max-height:calc(100vh - 108px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);display:flex;flex-direction:column;overflow:hidden;z-index:2147483001}' +
    'header{background:var(--c);padding:12px 14px;display:flex;align-items:center;gap:8px}header *{color:var(--t)}' +
    '.ti{flex:1;font-size:16px;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}' +
    '.x{background:none;border:0;font-size:24px;line-height:1;cursor:pointer;padding:0 4px}' +
    '.st{background:#fff4ce;padding:4px 14px;font-size:12px}' +
    'ol{flex:1;overflow-y:auto;list-style:none;padding:12px;display:flex;flex-direction:column;gap:6px;background:#f4f5f7}' +
    'li{max-width:80%;padding:8px 11px;border-radius:14px;background:#fff;box-shadow:0 1px 1px rgba(0,0,0,.08);white-space:pre-wrap;overflow-wrap:anywhere;align-self:flex-start}' +
    'li.me{align-self:flex-end;background:var(--c)}li.me,li.me *{color:var(--t)}li.pe{opacity:.6}.rd{display:block;font-size:11px;opacity:.8;text-align:right}li.fa{outline:2px solid #d93025}' +
    'li.sys{align-self:center;background:none;box-shadow:none;font-size:12px;color:#667}' +
    'li a{text-decoration:underline;display:inline}li svg.fi{width:14px;height:14px;vertical-align:-2px;margin-right:2px;fill:currentColor}li img{display:block;max-width:100%;max-height:160px;border-radius:6px;margin-top:4px}' +
    '.ty{padding:2px 14px 6px;font-size:12px;font-style:italic;color:#667;background:#f4f5f7}' +
    'form{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e5e8;align-items:flex-end}form.pc{flex-direction:column;align-items:stretch}' +
    'textarea,input{flex:1;min-width:0;border:1px solid #c9ced6;border-radius:8px;padding:8px;resize:none;max-height:120px;background:#fff}' +
    'form button{background:var(--c);color:var(--t);border:0;border-radius:8px;padding:8px 12px;cursor:pointer;font-weight:600}' +
    'form .a{background:none;padding:6px 4px}form .a svg{fill:#556;width:22px;height:22px}.er{color:#d93025;font-size:12px}' +
    '[hidden]{display:none!important}' +
    '@media (max-width:480px){.p,.left .p{left:0;right:0;top:0;bottom:0;width:auto;height:auto;max-height:none;border-radius:0}.open .l{display:none}}';

  function load(k) { try { return localStorage.getItem(KEY + k); } catch (e) { return null; } }
  function save(k, v) { try { if (v == null) localStorage.removeItem(KEY + k); else localStorage.setItem(KEY + k, String(v)); } catch (e) {} }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function icon(d) { var s = document.createElementNS(NS, 'svg'), p = document.createElementNS(NS, 'path'); s.setAttribute('viewBox', '0 0 24 24'); p.setAttribute('d', d); s.appendChild(p); return s; }
  function rid() { var b = new Uint8Array(12); crypto.getRandomValues(b); return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join(''); }
  function post(path, body, cb) {
    // A text/plain or multipart body keeps this a "simple" request: no CORS preflight.
    fetch(api + path, { method: 'POST', body: body, mode: 'cors', credentials: 'omit' }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { cb(r.status, j); });
    }, function () { cb(0, {}); });
  }

  var host = document.createElement('cgw-chat'), root, ui, cfg, profile = {}, token = load('token');
  var ws, ready = false, backoff = 0, retry, hb, hbWait, tyT, lastSeq = 0, readSeq = +load('read') || 0, toldSeq = 0, agentRead = 0;
  var seen = {}, byId = {}, pending = [], unread = 0, isOpen = load('open') === '1', title0 = null;
  host.setAttribute('data-widget', wid);
  host.style.cssText = 'all:initial!important;display:block!important';
  (document.body || document.documentElement).appendChild(host);
  function state(s) { host.setAttribute('data-state', s); }
  function delay() { var d = Math.min(15000, 1000 * Math.pow(2, backoff++)); return d / 2 + Math.random() * d / 2; }

  function start() {
    state('loading');
    post('/session', JSON.stringify({ token: token, language: navigator.language }), function (st, j) {
      if (st === 200 && j.token) {
        if (j.token !== token) { save('token', j.token); reset(); }
        token = j.token; cfg = j.config; profile = j.profile || {};
        build(); connect(); return;
      }
      if (st === 403 || st === 404) { state('refused'); if (ui) ui.w.hidden = true; return; }
      state('offline'); retry = setTimeout(start, delay());
    });
  }

  // A new visitor (token refused or replaced) starts with an empty history.
  function reset() {
    lastSeq = 0; seen = {}; byId = {}; readSeq = 0; agentRead = 0; save('read', null); save('pc', null);
    if (ui) while (ui.log.lastChild !== ui.g) ui.log.removeChild(ui.log.lastChild);
  }

  function build() {
    if (ui) return;
    root = host.attachShadow({ mode: 'open' });
    var u = ui = {}, style = el('style');
    style.textContent = STYLE; root.appendChild(style);
    u.w = el('div', cfg.position === 'left' ? 'left' : '');
    u.w.style.setProperty('--c', cfg.color); u.w.style.setProperty('--t', cfg.text_color);
    u.l = el('button', 'l'); u.l.type = 'button'; u.l.setAttribute('aria-label', cfg.title);
    u.l.appendChild(icon('M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z'));
    u.b = el('span', 'b'); u.b.hidden = true; u.l.appendChild(u.b);
    u.p = el('section', 'p'); u.p.setAttribute('role', 'dialog'); u.p.setAttribute('aria-label', cfg.title); u.p.hidden = true;
    var hd = el('header'), x = el('button', 'x', '\u00d7');
    x.type = 'button'; x.setAttribute('aria-label', 'Close');
    hd.appendChild(el('span', 'ti', cfg.title)); hd.appendChild(x);
    u.st = el('div', 'st', 'Reconnecting\u2026'); u.st.hidden = true;
    u.log = el('ol'); u.log.setAttribute('aria-live', 'polite');
    u.g = el('li', 'them', cfg.greeting); u.g.hidden = !cfg.greeting; u.log.appendChild(u.g);
    u.ty = el('div', 'ty', 'typing\u2026'); u.ty.hidden = true;
    u.pc = prechat();
    u.f = el('form'); u.ta = el('textarea'); u.ta.rows = 1; u.ta.maxLength = cfg.message_limit; u.ta.placeholder = 'Write a message\u2026';
    u.ta.setAttribute('aria-label', 'Message');
    var at = el('button', 'a'); at.type = 'button'; at.setAttribute('aria-label', 'Attach a file');
    at.appendChild(icon(CLIP));
    u.file = el('input'); u.file.type = 'file'; u.file.hidden = true;
    var send = el('button', 's', 'Send'); send.type = 'submit';
    [at, u.file, u.ta, send].forEach(function (n) { u.f.appendChild(n); });
    [hd, u.st, u.log, u.ty, u.pc, u.f].forEach(function (n) { u.p.appendChild(n); });
    u.w.appendChild(u.p); u.w.appendChild(u.l); root.appendChild(u.w);

    u.l.onclick = function () { toggle(!isOpen); };
    x.onclick = function () { toggle(false); };
    at.onclick = function () { u.file.click(); };
    u.file.onchange = upload;
    u.f.onsubmit = function (e) {
      e.preventDefault();
      var t = u.ta.value.trim();
      if (t) { submit(t, [], []); u.ta.value = ''; grow(); }
    };
    u.ta.onkeydown = function (e) { if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); u.f.requestSubmit ? u.f.requestSubmit() : u.f.onsubmit(e); } };
    u.ta.oninput = grow;
    showPrechat(needsPrechat());
    toggle(isOpen, true);
    state('ready');
  }

  function grow() { ui.ta.style.height = 'auto'; ui.ta.style.height = Math.min(ui.ta.scrollHeight + 2, 120) + 'px'; }

  function needsPrechat() {
    var n = cfg.prechat_name, m = cfg.prechat_email;
    if (n === 'required' && !profile.name || m === 'required' && !profile.email) return true;
    return (n === 'optional' || m === 'optional') && !profile.name && !profile.email && !load('pc');
  }

  function prechat() {
    var f = el('form', 'pc'), err = el('div', 'er'), go = el('button', 0, 'Start chat');
    f.appendChild(el('div', 0, 'Before we start, please tell us who you are.'));
    var fields = { name: cfg.prechat_name, email: cfg.prechat_email }, inputs = {};
    Object.keys(fields).forEach(function (k) {
      if (fields[k] === 'off') return;
      var i = inputs[k] = el('input'); i.type = k === 'email' ? 'email' : 'text'; i.name = k; i.required = fields[k] === 'required';
      i.placeholder = (k === 'email' ? 'E-mail' : 'Name') + (i.required ? '' : ' (optional)'); i.setAttribute('aria-label', i.placeholder);
      f.appendChild(i);
    });
    go.type = 'submit'; f.appendChild(err); f.appendChild(go);
    f.onsubmit = function (e) {
      e.preventDefault(); err.textContent = '';
      var p = { name: inputs.name ? inputs.name.value : '', email: inputs.email ? inputs.email.value : '' };
      post('/session', JSON.stringify({ token: token, language: navigator.language, profile: p }), function (st, j) {
        if (st === 200) { profile = j.profile || p; save('pc', 1); showPrechat(false); flush(); return; }
        var fe = j.error && j.error.fields;
        err.textContent = fe ? Object.keys(fe).map(function (k) { return fe[k]; }).join('; ') : 'Could not save, please try again.';
      });
    };
    return f;
  }
  function showPrechat(on) { ui.pc.hidden = !on; ui.f.hidden = on; }

  function toggle(open, quiet) {
    isOpen = open; save('open', open ? 1 : null);
    ui.p.hidden = !open; ui.w.className = (cfg.position === 'left' ? 'left' : '') + (open ? ' open' : '');
    ui.l.setAttribute('aria-expanded', open ? 'true' : 'false');
    if (!open) return;
    markRead(); scroll();
    var i = ui.f.hidden ? ui.pc.querySelector('input') : ui.ta;
    if (i && !quiet) i.focus();
  }

  function connect() {
    clearTimeout(retry);
    if (ws) return;
    var s = ws = new WebSocket(api.replace(/^http/, 'ws') + '/ws');
    s.onopen = function () { s.send(JSON.stringify({ type: 'hello', token: token, after: lastSeq, language: navigator.language })); beat(); };
    s.onmessage = function (e) { if (ws !== s) return; beat(); var f; try { f = JSON.parse(e.data); } catch (x) { return; } on(f); };
    s.onclose = function (e) {
      if (ws !== s) return;
      offline();
      if (e.code === 4001) { token = null; save('token', null); start(); return; }
      if (e.code === 4003) { state('refused'); ui.w.hidden = true; return; }
      retry = setTimeout(connect, delay());
    };
  }
  function offline() { ws = null; ready = false; clearTimeout(hb); clearTimeout(hbWait); ui.st.hidden = false; state('offline'); }
  // Heartbeat: a socket that stays silent after a ping is dead (sleeping laptop, lost network); drop it and dial again.
  function beat() {
    clearTimeout(hb); clearTimeout(hbWait);
    hb = setTimeout(function () {
      if (!ws || ws.readyState !== 1) return;
      ws.send('{"type":"ping"}');
      hbWait = setTimeout(function () { var s = ws; if (!s) return; offline(); s.onclose = null; s.close(); retry = setTimeout(connect, delay()); }, 10000);
    }, 25000);
  }
  function wake() { if (!ws && ui && host.getAttribute('data-state') !== 'refused') { backoff = 0; connect(); } }
  window.addEventListener('online', wake);
  document.addEventListener('visibilitychange', function () {
    if (document.hidden) return;
    if (title0 != null) { document.title = title0; title0 = null; }
    if (isOpen) markRead();
    wake();
  });

  function on(f) {
    if (f.type === 'ready') { ready = true; backoff = 0; ui.st.hidden = true; state('connected'); flush(); if (isOpen && !document.hidden) markRead(); }
    else if (f.type === 'message') show(f);
    else if (f.type === 'ack') { unpend(f.id); if (byId[f.id]) byId[f.id].classList.remove('pe'); }
    else if (f.type === 'typing') { ui.ty.hidden = false; clearTimeout(tyT); tyT = setTimeout(function () { ui.ty.hidden = true; }, 6000); scroll(); }
    else if (f.type === 'error') refused(f);
    else if (f.type === 'read') { agentRead = Math.max(agentRead, f.seq || 0); showRead(); }
  }

  function flush() { pending.forEach(frame); }
  function frame(f) { if (ready && ws && ws.readyState === 1 && ui.pc.hidden) ws.send(JSON.stringify(f)); }
  function unpend(id) { pending = pending.filter(function (p) { return p.id !== id; }); }

  function refused(f) {
    var li = byId[f.id], p = pending.filter(function (x) { return x.id === f.id; })[0];
    if (!f.id || !p) { if (f.message) note(f.message); return; }
    if (f.code === 'rate_limited' || f.code === 'unavailable') { setTimeout(function () { frame(p); }, f.retry_after_ms || 3000); return; }
    if (f.code === 'profile_required') { profile = {}; save('pc', null); showPrechat(true); return; }
    unpend(f.id);
    if (li) { li.className = 'me fa'; li.title = f.message || 'Not sent'; }
    note('Not sent: ' + (f.message || f.code));
  }

  function submit(text, ids, files) {
    var f = { type: 'message', id: rid(), text: text, files: ids }, li = el('li', 'me pe');
    fill(li, { text: text, files: files });
    byId[f.id] = li; ui.log.appendChild(li); pending.push(f); frame(f); scroll();
  }

  function upload() {
    var file = ui.file.files[0]; ui.file.value = '';
    if (!file) return;
    if (file.size > cfg.upload_limit) { note('The file is too large (at most ' + Math.floor(cfg.upload_limit / 1048576) + ' MB).'); return; }
    var li = el('li', 'me pe', 'Uploading ' + file.name + '\u2026'), fd = new FormData();
    ui.log.appendChild(li); scroll();
    fd.append('token', token); fd.append('file', file, file.name);
    post('/uploads', fd, function (st, j) {
      ui.log.removeChild(li);
      if (st === 201) submit('', [j.id], [j]);
      else note('Upload failed: ' + (j.error && j.error.message || 'network error'));
    });
  }

  function show(m) {
    if (seen[m.seq]) return;
    seen[m.seq] = 1; lastSeq = Math.max(lastSeq, m.seq);
    var li = byId[m.id];
    if (li && m.from === 'visitor') { li.className = 'me'; unpend(m.id); }
    else { li = el('li', m.from === 'visitor' ? 'me' : 'them'); ui.log.insertBefore(li, ui.log.querySelector('li.pe')); }
    fill(li, m);
    li.setAttribute('data-seq', m.seq);
    if (m.from === 'visitor') showRead();
    if (m.at) li.title = new Date(m.at).toLocaleString();
    if (m.from !== 'visitor') {
      ui.ty.hidden = true;
      if (m.seq > readSeq) { if (isOpen && !document.hidden) markRead(); else notice(); }
    }
    scroll();
  }

  // showRead marks the visitor's messages up to the agents' read watermark
  // (the gateway's read frame) with a visible, spoken "Read".
  function showRead() {
    ui.log.querySelectorAll('li.me[data-seq]').forEach(function (li) {
      if (+li.getAttribute('data-seq') > agentRead || li.querySelector('.rd')) return;
      var r = el('span', 'rd'); r.textContent = '\u2713\u2713 Read'; li.appendChild(r);
    });
  }

  // fill puts a message's text and files into li, as text and links only.
  function fill(li, m) {
    while (li.firstChild) li.removeChild(li.firstChild);
    linkify(li, m.text || '');
    (m.files || []).forEach(function (f) {
      var url = f.token ? api + '/files/' + encodeURIComponent(f.token) : f.url;
      if (!/^https?:\/\//i.test(url || '')) return;
      var a = el('a'), ic = icon(CLIP);
      if (li.textContent) li.appendChild(document.createTextNode('\n'));
      ic.setAttribute('class', 'fi'); a.appendChild(ic); a.appendChild(document.createTextNode(f.name || 'file'));
      a.href = url; a.target = '_blank'; a.rel = 'noopener noreferrer nofollow';
      if (f.token && /^image\/(png|jpeg|gif|webp)$/.test(f.mime || '')) { var img = el('img'); img.alt = f.name || ''; img.src = url; a.appendChild(img); }
      li.appendChild(a);
    });
  }
  function linkify(parent, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+/gi, last = 0, m;
    while ((m = re.exec(text))) {
      var url = m[0].replace(/[).,;:!?\]]+$/, ''), a = el('a', 0, url);
      parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      a.href = url; a.target = '_blank'; a.rel = 'noopener noreferrer nofollow';
      parent.appendChild(a);
      last = re.lastIndex = m.index + url.length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function note(t) { var li = el('li', 'sys', t); ui.log.appendChild(li); scroll(); }
  function scroll() { ui.log.scrollTop = ui.log.scrollHeight; }

  function markRead() { readSeq = Math.max(readSeq, lastSeq); save('read', readSeq); unread = 0; ui.b.hidden = true; tellRead(); }
  // The visitor saw the conversation up to readSeq: the gateway tells the portal (status.read).
  function tellRead() { if (readSeq > toldSeq && ready && ws && ws.readyState === 1) { toldSeq = readSeq; ws.send(JSON.stringify({ type: 'read', seq: readSeq })); } }
  function notice() {
    unread++; ui.b.textContent = unread > 9 ? '9+' : String(unread); ui.b.hidden = false;
    if (document.hidden) { if (title0 == null) title0 = document.title; document.title = '(' + unread + ') ' + title0; }
    if (cfg.sound) beep();
  }
  function beep() {
    var now = Date.now();
    if (now - (beep.at || 0) < 2000) return; // one sound for a burst (a catch-up brings several replies at once)
    beep.at = now;
    try {
      var C = window.AudioContext || window.webkitAudioContext, c = beep.c || (beep.c = new C()), o = c.createOscillator(), g = c.createGain();
      o.frequency.value = 880; g.gain.value = 0.05; o.connect(g); g.connect(c.destination); o.start(); o.stop(c.currentTime + 0.15);
    } catch (e) { /* no sound is fine */ }
  }

  start();
})();
