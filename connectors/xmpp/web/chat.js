// The XMPP web chat page's start-up: Converse.js logs in anonymously over
// the server's WebSocket and joins the one room named in the page's
// fragment (#room=…), and shows nothing else. Both are ES modules (the
// Converse.js release is one), run in order once the page is parsed.
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('xmpp-chat-config').textContent);
  var room = new URLSearchParams(location.hash.slice(1)).get('room');
  if (!room || !window.converse) {
    document.body.textContent = 'This chat opens from the site it belongs to.';
    return;
  }
  window.converse.initialize({
    authentication: 'anonymous',
    jid: cfg.domain,
    auto_login: true,
    websocket_url: cfg.websocket_url,
    discover_connection_methods: false,
    assets_path: cfg.assets_path,
    view_mode: 'fullscreen',
    singleton: true,
    auto_join_rooms: [room],
    nickname: 'Visitor',
    allow_logout: false,
    allow_muc_invitations: false,
    allow_bookmarks: false,
    show_controlbox_by_default: false,
    show_client_info: false,
    play_sounds: false,
    i18n: 'en',
    loglevel: 'warn',
    persistent_store: 'sessionStorage',
    // A visitor's anonymous account lives for one chat: no end-to-end
    // keys to publish (the agents read through the gateway anyway).
    blacklisted_plugins: ['converse-omemo']
  });
})();
