package bitrix24

import (
	"encoding/json"
	"strings"
	"testing"
)

// Both documented shapes of a yes/no result, and a refusal's reason.
func TestAccepted(t *testing.T) {
	for raw, want := range map[string]bool{`true`: true, `false`: false, `{"result":true}`: true, `{"result":false}`: false, `[]`: false} {
		if got, _ := accepted(json.RawMessage(raw)); got != want {
			t.Errorf("accepted(%s) = %v, want %v", raw, got, want)
		}
	}
	ok, why := accepted(json.RawMessage(`{"result":false,"error":"CONNECTOR_ID_REQUIRED","error_description":"Connector ID not given"}`))
	if ok || !strings.Contains(why, "CONNECTOR_ID_REQUIRED") || !strings.Contains(why, "not given") {
		t.Fatalf("refusal: %v %q", ok, why)
	}
}
