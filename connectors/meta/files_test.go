package meta_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/meta"
)

func TestFetchFile(t *testing.T) {
	srv := fake(t)
	jpeg := []byte("\xff\xd8\xff\xe0 fake jpeg")
	srv.AddMedia("1111", waToken, "image/jpeg", jpeg)
	cn := meta.NewWhatsApp(opts(srv))
	c := conn(t, cn)
	fc, err := cn.FetchFile(context.Background(), c, "media:1111")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(fc.Body)
	fc.Body.Close()
	if string(got) != string(jpeg) || fc.Mime != "image/jpeg" || fc.Size != int64(len(jpeg)) {
		t.Fatalf("file %q %s %d", got, fc.Mime, fc.Size)
	}
	// The token went in headers only: the lookup and the download.
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path+r.Query, waToken) || r.Auth != "Bearer "+waToken {
			t.Fatalf("request %+v", r)
		}
	}
	for _, ref := range []string{"media:9999", "avatar:1", "media:../x"} {
		if _, err := cn.FetchFile(context.Background(), c, ref); !errors.Is(err, connectors.ErrNoFile) {
			t.Fatalf("%s: %v", ref, err)
		}
	}
}
