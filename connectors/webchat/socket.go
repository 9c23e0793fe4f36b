package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/connector-gateway/connector/connectors"
)

// Close codes the widget acts on (4000-4999 are the application's).
const (
	// closeBadToken: the token does not check; the widget drops it and
	// starts a new session.
	closeBadToken websocket.StatusCode = 4001
	// closeChatClosed: the connection was deactivated or the site is no
	// longer allowed; the widget stops.
	closeChatClosed websocket.StatusCode = 4003
	// closeTooManyTabs: the visitor has too many sockets open; the widget
	// retries later.
	closeTooManyTabs websocket.StatusCode = 4008
)

const (
	helloTimeout   = 10 * time.Second
	writeTimeout   = 10 * time.Second
	pingEvery      = 30 * time.Second
	catchUpPage    = 100
	downloadLinkTT = 24 * time.Hour
)

// Socket is the widget's WebSocket. The page's origin is checked against
// the connection's allowed sites before the upgrade; the visitor is known
// from the token in the first frame (hello), never from the URL.
func (h *Handler) Socket(w http.ResponseWriter, r *http.Request) {
	c, ok := h.widget(w, r)
	if !ok {
		return
	}
	if !h.track() {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the gateway is shutting down")
		return
	}
	defer h.wg.Done()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The origin was checked above against the connection's own list,
		// which the library's host patterns cannot express (scheme, port).
		InsecureSkipVerify: true,
	})
	if err != nil {
		h.log.Debug("widget: websocket upgrade failed", slog.Any("err", err))
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(int64(h.cn.opts.MessageLimit*utf8.UTFMax + maxFrameOverhead))
	s := &socket{h: h, ws: ws, conn: c, origin: r.Header.Get("Origin"), out: make(chan serverFrame, 16)}
	s.serve()
}

// socket is one open widget connection.
type socket struct {
	h       *Handler
	ws      *websocket.Conn
	conn    connectors.Conn
	origin  string
	visitor string
	lang    string
	// last is the highest seq sent to the widget.
	last int64
	// readSeq is the agent-read watermark last sent to the widget.
	readSeq int64
	// out carries the reader's answers (acks, errors, pongs) to the writer,
	// the one goroutine that writes.
	out chan serverFrame
}

func (s *socket) serve() {
	hctx, cancel := context.WithTimeout(s.h.ctx, helloTimeout)
	_, data, err := s.ws.Read(hctx)
	cancel()
	if err != nil {
		return
	}
	f, err := parseClientFrame(data, s.h.cn.opts.MessageLimit)
	if err != nil || f.Type != frameHello {
		s.ws.Close(websocket.StatusPolicyViolation, "the first frame must be hello")
		return
	}
	visitor, err := s.h.sign.visitor(f.Token, s.conn.ID)
	if err != nil {
		s.ws.Close(closeBadToken, "invalid visitor token")
		return
	}
	s.visitor, s.lang, s.last = visitor, f.Language, f.After
	l := newListener()
	if !s.h.hub.add(convKey(s.conn.ID, visitor), l) {
		s.ws.Close(closeTooManyTabs, "too many open chats")
		return
	}
	defer s.h.hub.remove(convKey(s.conn.ID, visitor), l)

	wctx, stopWriter := context.WithCancel(s.h.ctx)
	defer stopWriter()
	// The reader has its own context so that the writer can close the
	// socket with a proper code and the reader still sees the close
	// handshake through.
	rctx, stopReader := context.WithCancel(context.Background())
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer stopWriter()
		s.read(rctx, wctx)
	}()
	code, reason := s.write(wctx, l)
	s.ws.Close(code, reason)
	stopReader()
	<-readerDone
}

// maxBadFrames is how many refused frames a socket may send before it is
// closed: the widget never sends that many, a script probing the gateway
// does.
const maxBadFrames = 20

// read handles the widget's frames until the socket ends.
func (s *socket) read(ctx, wctx context.Context) {
	bad := 0
	for {
		_, data, err := s.ws.Read(ctx)
		if err != nil {
			return
		}
		f, err := parseClientFrame(data, s.h.cn.opts.MessageLimit)
		var fe *badFrame
		switch {
		case errors.As(err, &fe):
			if bad++; bad > maxBadFrames {
				s.ws.Close(websocket.StatusPolicyViolation, "too many invalid frames")
				return
			}
			s.answer(wctx, serverFrame{Type: frameError, ID: clientIDOf(data), Code: fe.Code, Message: fe.Msg})
			continue
		case err != nil:
			return
		}
		switch f.Type {
		case framePing:
			s.answer(wctx, serverFrame{Type: framePong})
		case frameHello:
			s.answer(wctx, serverFrame{Type: frameError, Code: codeInvalid, Message: "hello was already said"})
		case frameMessage:
			s.message(ctx, wctx, f)
		case frameRead:
			if err := s.h.visitorRead(ctx, s.conn, s.visitor, f.Seq); err != nil {
				// Best effort, like the widget's own badge: the next read
				// frame covers this one.
				s.h.log.Warn("widget: report a read", slog.String("connection", s.conn.ID), slog.Any("err", err))
			}
		}
	}
}

func (s *socket) message(ctx, wctx context.Context, f clientFrame) {
	m, err := s.h.visitorMessage(ctx, s.conn, s.visitor, s.lang, f)
	var fe *badFrame
	var rl *rateLimited
	switch {
	case err == nil:
		s.answer(wctx, serverFrame{Type: frameAck, ID: f.ID, Seq: m.Seq})
	case errors.As(err, &fe):
		s.answer(wctx, serverFrame{Type: frameError, ID: f.ID, Code: fe.Code, Message: fe.Msg})
	case errors.As(err, &rl):
		s.answer(wctx, serverFrame{Type: frameError, ID: f.ID, Code: codeRateLimited, Message: rl.Error(), RetryAfter: max(rl.wait.Milliseconds(), 1)})
	default:
		s.h.log.Error("widget: take a visitor's message", slog.String("connection", s.conn.ID), slog.Any("err", err))
		// Not acknowledged: the widget keeps it and sends it again.
		s.answer(wctx, serverFrame{Type: frameError, ID: f.ID, Code: codeUnavailable, Message: "not sent yet, will retry", RetryAfter: 3000})
	}
}

// answer hands a frame to the writer, unless the socket is ending.
func (s *socket) answer(wctx context.Context, f serverFrame) {
	select {
	case s.out <- f:
	case <-wctx.Done():
	}
}

// clientIDOf fishes the id out of a frame that did not parse, so the
// widget learns which message was refused.
func clientIDOf(data []byte) string {
	var f struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &f) != nil || !clientIDShape.MatchString(f.ID) {
		return ""
	}
	return f.ID
}

// write sends the widget its history after the seq it had, then whatever
// comes, until the socket must end; it returns the close code and reason.
func (s *socket) write(ctx context.Context, l *listener) (websocket.StatusCode, string) {
	ended := func() (websocket.StatusCode, string) {
		if ctx.Err() != nil {
			return websocket.StatusGoingAway, "gateway going away"
		}
		return websocket.StatusInternalError, "try again"
	}
	if err := s.send(ctx, serverFrame{Type: frameReady, Visitor: s.visitor}); err != nil {
		return ended()
	}
	if err := s.catchUp(ctx); err != nil {
		return ended()
	}
	var poll <-chan time.Time
	if s.h.poll {
		t := time.NewTicker(s.h.cn.opts.Poll)
		defer t.Stop()
		poll = t.C
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	recheck := time.NewTicker(s.h.cn.opts.Recheck)
	defer recheck.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return websocket.StatusGoingAway, "gateway going away"
		case f := <-s.out:
			err = s.send(ctx, f)
		case <-l.wake:
			err = s.catchUp(ctx)
		case <-poll:
			err = s.catchUp(ctx)
		case <-l.typing:
			err = s.send(ctx, serverFrame{Type: frameTyping})
		case <-ping.C:
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
			err = s.ws.Ping(pctx)
			cancel()
		case <-recheck.C:
			// A deactivated chat, or a site taken off the list, ends open
			// sockets too. (Other setting changes apply on reconnect.)
			c, ok, lerr := s.h.gw.Connection(ctx, s.conn.Hash)
			if lerr == nil && (!ok || !connectors.OriginAllowed(c.Settings[SettingOrigins], s.origin)) {
				return closeChatClosed, "chat closed"
			}
		}
		if err != nil {
			return ended()
		}
	}
}

// catchUp sends every stored message after the last one sent, then the
// agents' read watermark if it moved. Every wake-up and poll comes here, so
// a mark made on another process arrives within the poll interval.
func (s *socket) catchUp(ctx context.Context) error {
	if err := s.catchUpMessages(ctx); err != nil {
		return err
	}
	seq, err := s.h.store.agentReadSeq(ctx, s.conn.ID, s.visitor)
	if err != nil {
		if ctx.Err() == nil {
			s.h.log.Error("widget: read watermark", slog.String("connection", s.conn.ID), slog.Any("err", err))
		}
		return err
	}
	if seq <= s.readSeq {
		return nil
	}
	if err := s.send(ctx, serverFrame{Type: frameRead, Seq: seq}); err != nil {
		return err
	}
	s.readSeq = seq
	return nil
}

func (s *socket) catchUpMessages(ctx context.Context) error {
	for {
		ms, err := s.h.store.messagesAfter(ctx, s.conn.ID, s.visitor, s.last, catchUpPage)
		if err != nil {
			if ctx.Err() == nil {
				s.h.log.Error("widget: read history", slog.String("connection", s.conn.ID), slog.Any("err", err))
			}
			return err
		}
		for _, m := range ms {
			if err := s.send(ctx, s.frame(m)); err != nil {
				return err
			}
			s.last = m.Seq
		}
		if len(ms) < catchUpPage {
			return nil
		}
	}
}

// frame is a history message as the widget gets it.
func (s *socket) frame(m message) serverFrame {
	f := serverFrame{Type: frameMessage, Seq: m.Seq, ID: m.ID, From: m.From, Text: m.Text}
	at := m.At
	f.At = &at
	exp := s.h.cn.opts.Now().Add(downloadLinkTT)
	for _, sf := range m.Files {
		wf := wireFile{Name: sf.Name, Mime: sf.Mime, Size: sf.Size, URL: sf.URL}
		if sf.Upload != "" {
			wf.Token = s.h.sign.downloadToken(s.conn.ID, s.visitor, sf.Upload, exp)
		}
		f.Files = append(f.Files, wf)
	}
	return f
}

// send writes one frame. The write is not cut short when ctx ends (the
// library would drop the connection without a close frame); shutdown waits
// for it, writeTimeout at most.
func (s *socket) send(ctx context.Context, f serverFrame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return s.ws.Write(wctx, websocket.MessageText, data)
}
