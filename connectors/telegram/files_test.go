package telegram_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/connectors/connectortest"
	"github.com/connector-gateway/connector/connectors/telegram"
	"github.com/connector-gateway/connector/connectors/telegram/telegramtest"
)

func fetch(t *testing.T, cn *telegram.Connector, c connectors.Conn, link string) ([]byte, error) {
	t.Helper()
	fc, err := cn.FetchFile(t.Context(), c, connectortest.RefOf(t, link))
	if err != nil {
		return nil, err
	}
	defer fc.Body.Close()
	return io.ReadAll(fc.Body)
}

func TestFetchPhotoFromParsedLink(t *testing.T) {
	cn, c, srv := setup(t)
	content := bytes.Repeat([]byte("JPEGDATA"), 5000)
	id, uid := srv.AddFile(content)
	in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: telegramtest.Update(1, chatIDInt, map[string]any{
		"photo": []map[string]any{{"file_id": id, "file_unique_id": uid, "width": 800, "height": 600, "file_size": len(content)}}})})
	if err != nil || len(in.Events) != 1 {
		t.Fatalf("Parse = %+v, %v", in, err)
	}
	f := in.Events[0].Event.Message.Files[0]
	got, err := fetch(t, cn, c, f.URL)
	if err != nil {
		t.Fatalf("FetchFile: %v", err)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("fetched %d bytes, want the %d stored", len(got), len(content))
	}
	// The download went to the configured endpoint's host, not api.telegram.org.
	if n := len(srv.Calls("getFile")); n != 1 {
		t.Errorf("getFile called %d times", n)
	}
}

func TestFetchAvatar(t *testing.T) {
	cn, c, srv := setup(t)
	face := []byte("a face")
	id, _ := srv.AddFile(face)
	srv.SetProfilePhoto(chatIDInt, id)
	in, err := cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: srv.Update(1, chatIDInt, "hi")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := fetch(t, cn, c, in.Events[0].Event.User.AvatarURL)
	if err != nil || !bytes.Equal(got, face) {
		t.Fatalf("avatar = %q, %v", got, err)
	}
	calls := srv.Calls("getUserProfilePhotos")
	if len(calls) != 1 || calls[0].Get("user_id") != chatID || calls[0].Get("limit") != "1" {
		t.Errorf("getUserProfilePhotos calls = %v", calls)
	}
	if got := srv.Calls("getFile"); len(got) != 1 || got[0].Get("file_id") != id {
		t.Errorf("getFile calls = %v, want the largest size %s", got, id)
	}

	// A user without a visible photo: no such file, not a gateway error.
	in, _ = cn.Parse(t.Context(), c, connectors.Request{Method: "POST", Header: secretHeader(secret), Body: srv.Update(2, 999, "hi")})
	if _, err := fetch(t, cn, c, in.Events[0].Event.User.AvatarURL); !errors.Is(err, connectors.ErrNoFile) {
		t.Errorf("avatar of a user without photo: %v, want ErrNoFile", err)
	}
}

func TestFetchRefusals(t *testing.T) {
	cn, c, srv := setup(t)
	big, _ := srv.AddBigFile(25 << 20)
	_, err := cn.FetchFile(t.Context(), c, "f:"+big)
	wantPermanent(t, err)
	if err == nil || !strings.Contains(err.Error(), "20 MB") {
		t.Errorf("too big: %v, want the limit named", err)
	}
	for _, ref := range []string{"f:no-such-file", "avatar:abc", "weird", "f:"} {
		if _, err := cn.FetchFile(t.Context(), c, ref); !errors.Is(err, connectors.ErrNoFile) {
			t.Errorf("%q: %v, want ErrNoFile", ref, err)
		}
	}
}

func TestFetchNeverLeaksToken(t *testing.T) {
	cn, c, srv := setup(t)
	id, _ := srv.AddFile([]byte("x"))
	srv.Close()
	_, err := cn.FetchFile(t.Context(), c, "f:"+id)
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	secretPart := token[strings.Index(token, ":")+1:]
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), secretPart) {
			t.Fatalf("error leaks the token: %q", e.Error())
		}
	}
}

func TestBotKey(t *testing.T) {
	cn, c, _ := setup(t)
	key, err := cn.BotKey(t.Context(), c)
	if err != nil || key != "telegram:123456789" {
		t.Fatalf("BotKey = %q, %v", key, err)
	}
	_, err = cn.BotKey(t.Context(), connectortest.WithSettings(c, "bot_token", "987654321:AAWrongTokenForTests_abcdefghijklmn"))
	wantPermanent(t, err)
}
