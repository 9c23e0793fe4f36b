package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/queue"
)

// pingTimeout bounds the connection test's ping, as dispatch.timeout's
// default bounds a batch: a portal slower than this would be locked out.
const pingTimeout = 10 * time.Second

// pingCheckName is the name of the portal check in a test report.
const pingCheckName = "Your portal accepts the gateway's events"

// pingEventID is a fresh id in the form of every event id (evt_ + 32 hex
// digits), so a portal's parser takes it like any other.
func pingEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return "evt_" + hex.EncodeToString(b)
}

func newPingClient() *http.Client {
	return &http.Client{Timeout: pingTimeout,
		// As for batches: a redirect is not an ack.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// pingPortal posts one signed batch holding a single `ping` event straight
// to the webhook URL of c's portal (not through the outbox, so it never
// waits behind queued events and never locks the line out) and reports the
// portal's answer as a check in plain words.
func (s *Lifecycle) pingPortal(ctx context.Context, c Connection) connectors.Check {
	check := connectors.Check{Name: pingCheckName}
	p, err := s.records.GetPortal(ctx, c.PortalID)
	if err != nil {
		check.Detail = "The gateway could not read the portal's record: " + err.Error()
		check.Fix = "This is the gateway's own problem; see its log."
		return check
	}
	if p.Kind != "" && p.Kind != KindNative {
		return s.testAdapter(ctx, p)
	}
	ev := connectors.Event{ID: pingEventID(), Type: connectors.TypePing, OccurredAt: time.Now().UTC(),
		Connector: c.Connector, Channel: c.Connector, Connection: c.ID, Line: c.LineID}
	payload, err := json.Marshal(ev)
	if err != nil {
		check.Detail = "could not encode the ping: " + err.Error()
		return check
	}
	items := []queue.Item{{EventID: ev.ID, Payload: payload}}
	id := BatchID(items)
	body := BatchBody(id, p.ID, c.LineID, items)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.WebhookURL, bytes.NewReader(body))
	if err != nil {
		check.Detail = fmt.Sprintf("The portal's webhook URL %q is not usable: %v", p.WebhookURL, err)
		check.Fix = "Set a valid https URL as the portal's webhook URL."
		return check
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "connector-gateway")
	if err := SetHeaders(req.Header, p.Secrets, id, time.Now(), body); err != nil {
		check.Detail = "could not sign the ping: " + err.Error()
		check.Fix = "This is the gateway's own problem; see its log."
		return check
	}
	began := time.Now()
	resp, err := s.ping.Do(req)
	if err != nil {
		var timeout interface{ Timeout() bool }
		if errors.As(err, &timeout) && timeout.Timeout() {
			check.Detail = fmt.Sprintf("Your portal at %s did not answer within %s.", p.WebhookURL, pingTimeout)
			check.Fix = "Make the webhook answer 2xx at once (store the batch, work on it afterwards); batches this slow lock the line out."
		} else {
			check.Detail = fmt.Sprintf("The gateway could not reach your portal at %s: %v", p.WebhookURL, err)
			check.Fix = "Check that the portal is running and that the gateway can reach its webhook URL (DNS, firewall, TLS certificate)."
		}
		return check
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	took := time.Since(began).Round(time.Millisecond)
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		check.OK = true
		check.Detail = fmt.Sprintf("Your portal acknowledged a signed test event (%d in %s).", code, took)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		check.Detail = fmt.Sprintf("Your portal refused a signed test event with %d: it does not accept the gateway's signature.", code)
		check.Fix = "Give the portal its current signing secret (whsec_…) and verify batches as docs/protocol.md section 3.2 shows."
	case code >= 300 && code <= 399:
		check.Detail = fmt.Sprintf("Your portal answered %d (a redirect); the gateway does not follow redirects.", code)
		check.Fix = "Set the portal's webhook URL to the final address (often https instead of http, or a trailing slash)."
	default:
		check.Detail = fmt.Sprintf("Your portal answered %d to a signed test event: %s", code, bytes.TrimSpace(snippet))
		check.Fix = "Make the webhook answer 2xx to every batch it has stored, and ignore event types it does not know (such as \"ping\")."
	}
	return check
}

// testAdapter is the portal check for a portal fed by a helpdesk adapter:
// its batches never go to the webhook URL, so the check is the adapter's
// live test of the helpdesk (nothing is posted there).
func (s *Lifecycle) testAdapter(ctx context.Context, p Portal) connectors.Check {
	check := connectors.Check{Name: pingCheckName}
	a, ok := s.adapters[p.Kind]
	if !ok {
		check.Detail = fmt.Sprintf("The portal is of kind %s, and this gateway has no adapter for it: its batches wait and are retried.", p.Kind)
		check.Fix = "Run a gateway build with that adapter, or set the portal's kind back to native (connector portal set-kind)."
		return check
	}
	t, ok := a.(Tester)
	if !ok {
		check.OK = true
		check.Detail = fmt.Sprintf("The portal is fed by the %s adapter (it cannot be tested without posting).", p.Kind)
		return check
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := t.Test(ctx, p); err != nil {
		check.Detail = fmt.Sprintf("The %s adapter's live test of your helpdesk failed: %v", p.Kind, err)
		check.Fix = "Correct the portal's adapter settings (console: How it gets messages…, or connector portal set-kind) and test again; docs/adapters/ has each helpdesk's set-up."
		return check
	}
	check.OK = true
	check.Detail = fmt.Sprintf("The portal is fed by the %s adapter, and its live test of your helpdesk passed.", p.Kind)
	return check
}
