package portal_test

import (
	"context"
	"errors"
	"testing"

	"github.com/connector-gateway/connector/portal"
)

type describedAdapter struct{}

func (describedAdapter) Deliver(context.Context, portal.Portal, portal.DeliveryBatch) error {
	return nil
}
func (describedAdapter) Settings() []portal.AdapterSetting {
	return []portal.AdapterSetting{
		{Key: "url", Label: "URL", Required: true},
		{Key: "queue", Label: "Queue", Required: true},
		{Key: "token", Label: "Token", Secret: true},
	}
}

type plainAdapter struct{}

func (plainAdapter) Deliver(context.Context, portal.Portal, portal.DeliveryBatch) error { return nil }

func TestCheckAdapterSettings(t *testing.T) {
	d := describedAdapter{}
	if err := portal.CheckAdapterSettings(d, "x", map[string]string{"url": "u", "queue": "q", "queue.lin_1": "q1"}); err != nil {
		t.Errorf("a listed key plus a line suffix: %v", err)
	}
	err := portal.CheckAdapterSettings(d, "x", map[string]string{"url": " ", "tokn": "t"})
	var fe portal.AdapterSettingErrors
	if !errors.As(err, &fe) || fe["url"] == "" || fe["queue"] == "" || fe["tokn"] == "" || len(fe) != 3 {
		t.Fatalf("missing and unknown keys: %#v", err)
	}
	if want := "queue: required (Queue); tokn: not a setting of kind x (its settings: url, queue, token); url: required (URL)"; err.Error() != want {
		t.Errorf("message %q\nwant     %q", err, want)
	}
	if err := portal.CheckAdapterSettings(plainAdapter{}, "y", map[string]string{"any": "thing"}); err != nil {
		t.Errorf("an adapter without a Describer takes any keys: %v", err)
	}
}
