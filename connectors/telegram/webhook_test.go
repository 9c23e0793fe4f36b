package telegram_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
)

func TestActivateSetsWebhook(t *testing.T) {
	cn, c, srv := setup(t)
	if err := cn.Activate(t.Context(), c); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	calls := srv.Calls("setWebhook")
	if len(calls) != 1 {
		t.Fatalf("setWebhook called %d times, want 1", len(calls))
	}
	got := calls[0]
	if got.Get("url") != entryURL {
		t.Errorf("url = %q, want %q", got.Get("url"), entryURL)
	}
	if got.Get("secret_token") != secret {
		t.Errorf("secret_token = %q, want the connection's webhook_secret", got.Get("secret_token"))
	}
	var allowed []string
	if err := json.Unmarshal([]byte(got.Get("allowed_updates")), &allowed); err != nil ||
		!slices.Equal(allowed, []string{"message", "edited_message"}) {
		t.Errorf("allowed_updates = %q, want a JSON array of message, edited_message", got.Get("allowed_updates"))
	}
	if got.Get("drop_pending_updates") != "false" {
		t.Errorf("drop_pending_updates = %q, want false", got.Get("drop_pending_updates"))
	}
	if n := len(srv.Calls("getMe")); n != 0 {
		t.Errorf("Activate called getMe %d times; it should not", n)
	}

	// Test now sees the webhook where the gateway expects it.
	r, err := cn.Test(t.Context(), c)
	if err != nil || !r.OK {
		t.Errorf("Test after Activate = %+v, %v", r, err)
	}
}

func TestActivateWithoutPublicURL(t *testing.T) {
	cn, c, srv := setup(t)
	c.EntryURL = ""
	err := cn.Activate(t.Context(), c)
	if err == nil || !strings.Contains(err.Error(), "public URL") {
		t.Fatalf("err = %v, want one about the missing public URL", err)
	}
	if errors.Is(err, connectors.ErrNeedsPolling) {
		t.Error("webhook mode without URL must not silently switch to polling")
	}
	if n := len(srv.Calls("setWebhook")); n != 0 {
		t.Errorf("setWebhook called %d times", n)
	}
}

func TestActivatePolling(t *testing.T) {
	cn, c, srv := setup(t)
	if err := cn.Activate(t.Context(), c); err != nil { // a webhook from an earlier mode
		t.Fatal(err)
	}
	polling := connectortest.WithSettings(c, "mode", "polling")
	polling.EntryURL = ""
	if err := cn.Activate(t.Context(), polling); !errors.Is(err, connectors.ErrNeedsPolling) {
		t.Fatalf("err = %v, want ErrNeedsPolling", err)
	}
	if n := len(srv.Calls("deleteWebhook")); n != 1 {
		t.Fatalf("deleteWebhook called %d times, want 1", n)
	}
	if n := len(srv.Calls("setWebhook")); n != 1 {
		t.Errorf("setWebhook called %d times, want only the earlier 1", n)
	}
	r, err := cn.Test(t.Context(), polling)
	if err != nil || !r.OK {
		t.Errorf("Test after polling Activate = %+v, %v", r, err)
	}
}

func TestActivateErrors(t *testing.T) {
	cn, c, srv := setup(t)
	srv.FailNext("setWebhook", 1, 400, "Bad Request: bad webhook: HTTPS url must be provided for webhook", 0)
	err := cn.Activate(t.Context(), c)
	wantPermanent(t, err)
	if err == nil || !strings.Contains(err.Error(), "HTTPS url must be provided") {
		t.Errorf("err = %v, want Telegram's reason", err)
	}

	srv.FailNext("deleteWebhook", 1, 500, "Internal Server Error", 0)
	err = cn.Activate(t.Context(), connectortest.WithSettings(c, "mode", "polling"))
	if err == nil || errors.Is(err, connectors.ErrNeedsPolling) {
		t.Errorf("err = %v, want the deleteWebhook failure, not ErrNeedsPolling", err)
	}

	wrong := connectortest.WithSettings(c, "bot_token", "987654321:AAWrongTokenForTests_abcdefghijklmn")
	wantPermanent(t, cn.Activate(t.Context(), wrong))
}

func TestDeactivate(t *testing.T) {
	cn, c, srv := setup(t)
	if err := cn.Activate(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := cn.Deactivate(t.Context(), c); err != nil {
			t.Fatalf("Deactivate: %v", err)
		}
	}
	calls := srv.Calls("deleteWebhook")
	if len(calls) != 2 || calls[0].Get("drop_pending_updates") == "true" {
		t.Errorf("deleteWebhook calls = %v", calls)
	}
}
