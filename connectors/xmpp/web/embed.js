// The XMPP web chat's embed script: a chat button on the site's page and,
// once opened, a frame with the gateway's Converse.js page in the room the
// gateway hands out. Plain JavaScript, no framework. The room is kept for
// the browser tab's session, so moving between pages keeps the chat.
(function () {
  'use strict';
  var me = document.currentScript;
  if (!me || !me.src) { return; }
  var base = me.src.replace(/embed\.js(\?.*)?$/, '');
  var key = 'connector-xmpp-room:' + base;
  var host = document.createElement('div');
  host.setAttribute('data-connector-xmpp-chat', '');
  var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
  var style = document.createElement('style');
  style.textContent =
    ':host{all:initial}' +
    'button{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;' +
    'padding:14px 20px;font:600 15px/1 system-ui,sans-serif;background:#1f6feb;color:#fff;cursor:pointer;' +
    'box-shadow:0 4px 14px rgba(0,0,0,.25)}' +
    'iframe{position:fixed;right:20px;bottom:80px;z-index:2147483000;width:380px;height:560px;' +
    'max-width:calc(100vw - 40px);max-height:calc(100vh - 100px);border:0;border-radius:12px;' +
    'box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff}' +
    'iframe[hidden]{display:none}' +
    'p{position:fixed;right:20px;bottom:80px;z-index:2147483000;margin:0;padding:10px 14px;border-radius:8px;' +
    'background:#fff;color:#333;font:14px/1.4 system-ui,sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.2)}';
  root.appendChild(style);
  var button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Chat with us';
  root.appendChild(button);
  var note = document.createElement('p');
  note.hidden = true;
  root.appendChild(note);
  var frame = null;

  function say(text) { note.textContent = text; note.hidden = !text; }

  function storedRoom() {
    try { return sessionStorage.getItem(key); } catch (e) { return null; }
  }

  function keepRoom(room) {
    try { sessionStorage.setItem(key, room); } catch (e) { /* private mode: the room lasts this page */ }
  }

  // askRoom asks the gateway for a room, retrying while it answers that
  // the chat is starting or no room is free (503 with Retry-After).
  // A room kept from earlier in the tab's session is asked back with
  // ?resume=: the gateway answers it while its conversation is on, else a
  // new room (a closed conversation's room is gone).
  function askRoom(tries, resume, done) {
    var xhr = new XMLHttpRequest();
    xhr.open('POST', base + 'room' + (resume ? '?resume=' + encodeURIComponent(resume) : ''));
    xhr.onload = function () {
      if (xhr.status === 200) {
        try { done(JSON.parse(xhr.responseText).room); } catch (e) { say('The chat is unavailable.'); }
        return;
      }
      if (xhr.status === 503 && tries > 1) {
        var wait = parseInt(xhr.getResponseHeader('Retry-After'), 10) || 1;
        setTimeout(function () { askRoom(tries - 1, resume, done); }, wait * 1000);
        return;
      }
      say(xhr.status === 403 ? 'This chat is not enabled for this site.' : 'The chat is unavailable right now. Please try again later.');
      button.disabled = false;
    };
    xhr.onerror = function () {
      say('The chat is unavailable right now. Please try again later.');
      button.disabled = false;
    };
    xhr.send();
  }

  function show(room) {
    say('');
    keepRoom(room);
    frame = document.createElement('iframe');
    frame.title = 'Chat';
    frame.src = base + 'chat#room=' + encodeURIComponent(room);
    root.appendChild(frame);
    button.textContent = 'Close chat';
    button.disabled = false;
  }

  button.addEventListener('click', function () {
    if (frame) {
      frame.hidden = !frame.hidden;
      button.textContent = frame.hidden ? 'Chat with us' : 'Close chat';
      return;
    }
    button.disabled = true;
    say('Connecting…');
    askRoom(10, storedRoom(), show);
  });

  function mount() { document.body.appendChild(host); }
  if (document.body) { mount(); } else { document.addEventListener('DOMContentLoaded', mount); }
})();
