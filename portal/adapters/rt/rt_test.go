package rt_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connector-gateway/connector/portal"
	"github.com/connector-gateway/connector/portal/adapters/rt"
	"github.com/connector-gateway/connector/portal/adapters/rt/rttest"
	"github.com/connector-gateway/connector/queue"
	"github.com/connector-gateway/connector/queue/queuetest"
)

func event(id, chat, text string) queue.NewEvent {
	payload := fmt.Sprintf(`{"id":%q,"type":"message.created","occurred_at":"2026-12-01T00:00:00Z","connector":"telegram","channel":"telegram","connection":"con_1","line":"lin_1","chat":{"id":%q,"type":"private"},"user":{"id":"u1","name":"Ann"},"message":{"id":%q,"text":%q}}`, id, chat, id, text)
	return queue.NewEvent{DedupeKey: "k" + id, PortalID: "", LineID: "lin_1", EventID: id, Payload: []byte(payload)}
}

// Customer messages become one ticket in the line's RT queue and its
// correspondence; RT stopped mid-run locks the line out, and once RT is
// back the waiting message arrives exactly once.
func TestRealRTTicketPerChatSurvivesRestart(t *testing.T) {
	r := rttest.Start(t)
	ctx := context.Background()
	db := queuetest.Open(t, queuetest.Backends()[len(queuetest.Backends())-1])
	sealer, _ := portal.NewSealer(portal.NewKey())
	recs := portal.NewRecords(db, sealer, nil, nil)
	p, _, err := recs.CreatePortal(ctx, "RT", "http://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	// The gateway authenticates with a token of its own RT user, so its
	// own correspondence is told apart from the agent's by the token's owner.
	r.CreateUser("gateway", "gatewaypass1")
	if err := recs.SetPortalKind(ctx, p.ID, portal.KindRT, map[string]string{rt.SettingURL: r.URL, rt.SettingToken: r.Token("gateway"), rt.SettingQueue: rttest.Queue}); err != nil {
		t.Fatal(err)
	}
	ob, err := queue.NewOutbox(db, queue.Config{Schedule: []time.Duration{200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	ids := portal.NewAdapterIDs(db)
	d, err := portal.NewDispatcher(ob, recs, portal.DispatcherConfig{Poll: 50 * time.Millisecond, Timeout: 5 * time.Second,
		Adapters: map[string]portal.Deliverer{portal.KindRT: &rt.Adapter{IDs: ids}}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	put := func(evs ...queue.NewEvent) {
		for i := range evs {
			evs[i].PortalID = p.ID
		}
		if _, err := ob.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	drained := func(what string) {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if st, err := ob.Status(ctx, "lin_1"); err == nil && st.Pending == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: the line did not drain", what)
	}
	put(event("evt_1", "42", "Hello, my order is late"), event("evt_2", "42", "Order 1234"))
	drained("first messages")
	ticket, ok, err := ids.Get(ctx, p.ID, "chat:con_1:42")
	if err != nil || !ok {
		t.Fatalf("no ticket recorded for the chat: %v", err)
	}
	if got := r.Texts(ticket); len(got) != 2 || got[0] != "Hello, my order is late" || got[1] != "Order 1234" {
		t.Fatalf("ticket %s holds %q", ticket, got)
	}

	r.Stop()
	put(event("evt_3", "42", "Anyone there?"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := ob.Status(ctx, "lin_1")
		if err == nil && st.Failures > 0 && st.LockedUntil != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RT down, yet the line was not locked out: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Start()
	drained("after RT came back")
	if got := r.Texts(ticket); len(got) != 3 || got[2] != "Anyone there?" {
		t.Fatalf("after the restart ticket %s holds %q; want the third message once", ticket, got)
	}

	// A staff member answers in RT; the poller turns it into an outbound
	// request for the chat, once, however often it polls.
	r.CreateUser("agent", "agentpass1")
	req, _ := http.NewRequest("POST", r.URL+"/REST/2.0/ticket/"+ticket+"/correspond", strings.NewReader(`{"Content":"Your order ships today","ContentType":"text/plain"}`))
	req.SetBasicAuth("agent", "agentpass1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("agent reply: %v %v", resp, err)
	}
	resp.Body.Close()
	outbound := queue.NewOutbound(ob)
	replies := &rt.Replies{IDs: ids, Outbound: outbound}
	p, _ = recs.GetPortal(ctx, p.ID)
	for i := 0; i < 2; i++ {
		if err := replies.PollOnce(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	reqs, err := outbound.Claim(ctx, "test", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].ChatID != "42" || reqs[0].ConnectionID != "con_1" || !strings.Contains(string(reqs[0].Payload), "Your order ships today") {
		t.Fatalf("outbound after the agent's reply: %+v", reqs)
	}
}
