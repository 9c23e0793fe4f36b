package meta_test

import (
	"context"
	"testing"

	"github.com/connector-gateway/connector/connectors/meta"
	"github.com/connector-gateway/connector/connectors/meta/metatest"
)

// BenchmarkParse: a signed WhatsApp text webhook, signature check included.
func BenchmarkParse(b *testing.B) {
	cn := meta.NewWhatsApp(meta.Options{})
	c := conn(b, cn)
	req := post(metatest.WAMessages(wabaID, numberID, metatest.WAText("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "Does it come in another color?", at)), appSecret)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in, err := cn.Parse(ctx, c, req)
		if err != nil || len(in.Events) != 1 {
			b.Fatal(err)
		}
	}
}
