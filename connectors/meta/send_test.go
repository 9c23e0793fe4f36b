package meta_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

func TestWhatsAppSend(t *testing.T) {
	srv := fake(t)
	cn := meta.NewWhatsApp(opts(srv))
	c := conn(t, cn)
	d, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: metatest.CustomerWaID, Text: "It ships today.", ReplyTo: "wamid.CUSTOMER",
		RequestID: "req_42", Files: []connectors.OutFile{{URL: "https://cdn.example.com/label.pdf", Name: "label.pdf", Mime: "application/pdf"}, {URL: "https://cdn.example.com/box.jpg"}}})
	if err != nil {
		t.Fatal(err)
	}
	sent := srv.Sent()
	if len(sent) != 2 || len(d.MessageIDs) != 2 || d.MessageIDs[0] != sent[0].ID {
		t.Fatalf("delivery %v, sent %+v", d, sent)
	}
	// The text rides as the document's caption; the reply context on the
	// first message only; the request id on both.
	if s := sent[0]; s.Type != "document" || s.Link != "https://cdn.example.com/label.pdf" || s.Caption != "It ships today." || s.Filename != "label.pdf" ||
		s.ReplyTo != "wamid.CUSTOMER" || s.Callback != "req_42" || s.To != metatest.CustomerWaID || s.From != numberID {
		t.Fatalf("first %+v", s)
	}
	if s := sent[1]; s.Type != "image" || s.Caption != "" || s.ReplyTo != "" || s.Callback != "req_42" {
		t.Fatalf("second %+v", s)
	}
	req := srv.Requests()[0]
	if req.Version != "v21.0" || req.Path != "/"+numberID+"/messages" || req.Auth != "Bearer "+waToken || strings.Contains(req.Query, waToken) {
		t.Fatalf("request %+v", req)
	}

	// A retry that already delivered one part sends only the rest.
	d, err = cn.Send(context.Background(), c, connectors.Outbound{ChatID: metatest.CustomerWaID, Text: strings.Repeat("long text ", 500), SentParts: 1})
	if err != nil || len(d.MessageIDs) != 1 || len(srv.Sent()) != 3 || srv.Sent()[2].Type != "text" {
		t.Fatalf("resume: %v %v %d", d, err, len(srv.Sent()))
	}
}

func TestMessengerSendAndTyping(t *testing.T) {
	srv := fake(t)
	for _, cn := range []*meta.Messaging{meta.NewMessenger(opts(srv)), meta.NewInstagram(opts(srv))} {
		c := conn(t, cn)
		to := metatest.CustomerPSID
		if cn.Describe().Type == meta.TypeInstagram {
			to = metatest.CustomerIGSID
		}
		before := len(srv.Sent())
		d, err := cn.Send(context.Background(), c, connectors.Outbound{ChatID: to, Text: "Open 10 to 4.", Files: []connectors.OutFile{{URL: "https://cdn.example.com/map.png", Mime: "image/png"}}})
		if err != nil || len(d.MessageIDs) != 2 {
			t.Fatalf("%s: %v %v", cn.Describe().Type, d, err)
		}
		sent := srv.Sent()[before:]
		if sent[0].Channel != cn.Describe().Type || sent[0].Text != "Open 10 to 4." || sent[0].MessagingType != "RESPONSE" || sent[0].To != to ||
			sent[1].Type != "image" || sent[1].Link != "https://cdn.example.com/map.png" {
			t.Fatalf("%s: sent %+v", cn.Describe().Type, sent)
		}
		if err := cn.Typing(context.Background(), c, to); err != nil {
			t.Fatal(err)
		}
		if last := srv.Sent()[len(srv.Sent())-1]; last.Action != "typing_on" || last.To != to {
			t.Fatalf("typing %+v", last)
		}
	}
}

func TestSendErrors(t *testing.T) {
	srv := fake(t)
	wa := meta.NewWhatsApp(opts(srv))
	ms := meta.NewMessenger(opts(srv))
	waConn, msConn := conn(t, wa), conn(t, ms)
	waMsg := connectors.Outbound{ChatID: metatest.CustomerWaID, Text: "hello"}
	msMsg := connectors.Outbound{ChatID: metatest.CustomerPSID, Text: "hello"}

	permanent := func(name string, err error, words ...string) {
		t.Helper()
		var pe *connectors.PermanentError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: %v is not permanent", name, err)
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s: %q does not say %q", name, err, w)
			}
		}
		if strings.Contains(err.Error(), waToken) || strings.Contains(err.Error(), pageToken) {
			t.Fatalf("%s: a token in %q", name, err)
		}
	}
	limited := func(name string, err error, wait time.Duration) {
		t.Helper()
		var rl *connectors.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != wait {
			t.Fatalf("%s: %v is not rate limited by %s", name, err, wait)
		}
	}
	transient := func(name string, err error) {
		t.Helper()
		var pe *connectors.PermanentError
		var rl *connectors.RateLimitedError
		if err == nil || errors.As(err, &pe) || errors.As(err, &rl) {
			t.Fatalf("%s: %v is not a plain (retried) error", name, err)
		}
	}

	srv.CloseWindow(metatest.CustomerWaID)
	srv.CloseWindow(metatest.CustomerPSID)
	_, err := wa.Send(context.Background(), waConn, waMsg)
	permanent("whatsapp window", err, "24 hours", "template", "131047")
	_, err = ms.Send(context.Background(), msConn, msMsg)
	permanent("messenger window", err, "24-hour window", "10/2018278")

	other := connectors.Outbound{ChatID: "4915199999999", Text: "hi"}
	srv.FailNext(1, 429, 130429, 0, "(#130429) Rate limit hit")
	_, err = wa.Send(context.Background(), waConn, other)
	limited("throughput", err, time.Minute)
	srv.FailNext(1, 400, 131056, 0, "(#131056) (Business Account, Consumer Account) pair rate limit hit")
	_, err = wa.Send(context.Background(), waConn, other)
	limited("pair limit", err, 6*time.Second)
	srv.FailNext(1, 400, 4, 0, "(#4) Application request limit reached")
	_, err = wa.Send(context.Background(), waConn, other)
	limited("app limit", err, time.Minute)
	srv.FailNext(1, 500, 2, 0, "An unexpected error has occurred. Please retry your request later.")
	_, err = wa.Send(context.Background(), waConn, other)
	transient("500", err)
	srv.FailNext(1, 503, 0, 0, "")
	_, err = wa.Send(context.Background(), waConn, other)
	transient("503", err)
	srv.FailNext(1, 400, 131026, 0, "(#131026) Message undeliverable")
	_, err = wa.Send(context.Background(), waConn, other)
	permanent("undeliverable", err, "could not deliver")

	bad := waConn
	bad.Settings = connectors.Settings{"phone_number_id": numberID, "access_token": "EAAGsomeoldrevokedtoken0000000"}
	_, err = wa.Send(context.Background(), bad, other)
	permanent("revoked token", err, "no longer accepts the access token")

	_, err = wa.Send(context.Background(), waConn, connectors.Outbound{ChatID: "not-a-number", Text: "hi"})
	permanent("bad chat id", err)
	_, err = wa.Send(context.Background(), waConn, connectors.Outbound{ChatID: metatest.CustomerWaID})
	permanent("empty", err)
	_, err = wa.Send(context.Background(), waConn, connectors.Outbound{ChatID: metatest.CustomerWaID, Files: []connectors.OutFile{{URL: "ftp://x/y"}}})
	permanent("bad file url", err)

	// The Graph API unreachable: retried.
	gone := meta.NewWhatsApp(meta.Options{APIURL: "http://127.0.0.1:1"})
	_, err = gone.Send(context.Background(), waConn, other)
	transient("unreachable", err)
}

// An agent's read reaches the customer: WhatsApp marks the message read
// (blue ticks), Messenger and Instagram mark the conversation seen.
func TestMarkRead(t *testing.T) {
	srv := fake(t)
	wa := meta.NewWhatsApp(opts(srv))
	if err := wa.MarkRead(context.Background(), conn(t, wa), metatest.CustomerWaID, "wamid.CUSTOMER1"); err != nil {
		t.Fatal(err)
	}
	if last := srv.Sent()[len(srv.Sent())-1]; last.Channel != "whatsapp" || last.Type != "read" || last.ReplyTo != "wamid.CUSTOMER1" || last.From != numberID {
		t.Fatalf("whatsapp read %+v", last)
	}
	var perm *connectors.PermanentError
	if err := wa.MarkRead(context.Background(), conn(t, wa), metatest.CustomerWaID, ""); !errors.As(err, &perm) {
		t.Fatalf("read without a message id: %v, want a permanent error", err)
	}
	for _, cn := range []*meta.Messaging{meta.NewMessenger(opts(srv)), meta.NewInstagram(opts(srv))} {
		to := metatest.CustomerPSID
		if cn.Describe().Type == meta.TypeInstagram {
			to = metatest.CustomerIGSID
		}
		if err := cn.MarkRead(context.Background(), conn(t, cn), to, "m_1"); err != nil {
			t.Fatal(err)
		}
		if last := srv.Sent()[len(srv.Sent())-1]; last.Action != "mark_seen" || last.To != to || last.Channel != cn.Describe().Type {
			t.Fatalf("%s read %+v", cn.Describe().Type, last)
		}
	}
}
