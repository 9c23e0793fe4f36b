package traffic

import (
	"encoding/json"
	"testing"
)

var fieldSeeds = []string{
	`{"id":"evt_1","type":"message.created","connection":"con_1","connector":"telegram","chat":{"id":"42","type":"private"},"sender":{"id":"7","name":"Ann"},"message":{"id":"9","text":"hi, \"you\" {x} [y]","files":[{"url":"u"}]},"created_at":"2026-12-02T01:00:00Z","n":-1.5e3,"b":true,"z":null}`,
	`{"type":"status.delivered","chat":{"id":"42"},"status":{"request_id":"req_1","state":"delivered"}}`,
	`{"type":"a","type":"b","chat":{"id":"x"},"chat":{"other":1}}`,
	`{"Type":"caps","chat":{"ID":"c"}}`,
	`{"type":"caf\u00e9","chat":null,"status":{"request_id":null}}`,
	`{"type":5}`,
	`{"chat":{"id":7}}`,
	`{"type":"x"} trailing`,
	`[1,2]`,
	`{}`,
	` { "type" : "spaced" , "chat" : { "id" : "s" } } `,
	`{"type":"ünï","connector":"x"}`,
	`{"a":[{"b":"}"},"]"],"type":"after"}`,
}

func TestFieldsOfAgreesWithUnmarshal(t *testing.T) {
	for _, s := range fieldSeeds {
		got, gotOK := fieldsOf([]byte(s))
		want, wantOK := unmarshalFields([]byte(s))
		if got != want || gotOK != wantOK {
			t.Errorf("%s: got %+v %v, want %+v %v", s, got, gotOK, want, wantOK)
		}
	}
}

func FuzzFieldsOf(f *testing.F) {
	for _, s := range fieldSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		got, gotOK := fieldsOf(p)
		if !json.Valid(p) {
			return // malformed payloads are never stored; see fieldsOf
		}
		want, wantOK := unmarshalFields(p)
		if got != want || gotOK != wantOK {
			t.Fatalf("%q: got %+v %v, want %+v %v", p, got, gotOK, want, wantOK)
		}
	})
}

// BenchmarkFieldsOf reads the trace fields of a typical stored message.
func BenchmarkFieldsOf(b *testing.B) {
	p := []byte(fieldSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := fieldsOf(p); !ok {
			b.Fatal("not read")
		}
	}
}

// BenchmarkFieldsOfUnmarshal is the same with json.Unmarshal, as before.
func BenchmarkFieldsOfUnmarshal(b *testing.B) {
	p := []byte(fieldSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := unmarshalFields(p); !ok {
			b.Fatal("not read")
		}
	}
}
