package telegram_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
)

// One Connector serves many connections (tokens) at once: calls for the
// fake's token succeed, calls for other tokens are refused by the fake, and
// no call is attributed to the wrong token.
func TestConcurrentUse(t *testing.T) {
	const workers, each = 8, 5
	cn, c, srv := setup(t)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := c
			if w%2 == 1 { // another bot, unknown to the fake
				conn = connectortest.WithSettings(c, "bot_token", fmt.Sprintf("%d:AAOtherTokenForTests_abcdefghijklmn", 1000+w))
			}
			for i := range each {
				_, err := cn.Send(t.Context(), conn, connectors.Outbound{ChatID: chatID, Text: "hi"})
				if (err == nil) != (w%2 == 0) {
					t.Errorf("worker %d send %d: err = %v", w, i, err)
				}
				in, err := cn.Parse(t.Context(), conn, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: srv.Update(w*each+i+1, chatIDInt, "hello")})
				if err != nil || len(in.Events) != 1 {
					t.Errorf("worker %d parse %d: %+v, %v", w, i, in, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(srv.Calls("sendMessage")); n != workers/2*each {
		t.Errorf("fake saw %d sends with its token, want %d", n, workers/2*each)
	}
}
