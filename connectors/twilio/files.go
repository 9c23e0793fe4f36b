package twilio

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// FetchFile streams a message's media or a call's recording behind one of
// the connector's gateway links. The reference is the file's path below
// the account ("Messages/MM…/Media/ME…" or "Recordings/RE…"), fetched from
// the configured API with the account's credentials (Twilio may require
// them for media); recordings are fetched as MP3. Twilio redirects media
// to its CDN: the credentials, in a header, are not sent there. A file
// Twilio does not have (any more) is an error wrapping connectors.ErrNoFile.
func (cn *Connector) FetchFile(ctx context.Context, c connectors.Conn, ref string) (connectors.FileContent, error) {
	if c.Settings[SettingAccountSID] == "" {
		return connectors.FileContent{}, permanent("file: no account SID is set")
	}
	if !mediaPath.MatchString("/2010-04-01/Accounts/" + c.Settings[SettingAccountSID] + "/" + ref) {
		return connectors.FileContent{}, fmt.Errorf("twilio: file: unknown reference: %w", connectors.ErrNoFile)
	}
	u := cn.accountURL(c) + "/" + ref
	if strings.HasPrefix(ref, "Recordings/") {
		u += ".mp3"
	}
	resp, err := cn.doClient(ctx, cn.fileClient, c, http.MethodGet, u, nil)
	if err != nil {
		return connectors.FileContent{}, transportError(ctx, "download file", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return connectors.FileContent{}, fmt.Errorf("twilio: download file: %w", connectors.ErrNoFile)
	default:
		defer resp.Body.Close()
		return connectors.FileContent{}, classify("download file", resp)
	}
	return connectors.FileContent{Body: resp.Body, Mime: resp.Header.Get("Content-Type"), Size: resp.ContentLength}, nil
}

// BotKey is the number the connection serves: "twilio:<account
// sid>:<number>" for its phone number, or, for a WhatsApp-only
// connection, "twilio:<account sid>:whatsapp:<number>". Binding the same
// number again elsewhere puts the older line into emergency. It makes no
// request.
func (*Connector) BotKey(_ context.Context, c connectors.Conn) (string, error) {
	sid := c.Settings[SettingAccountSID]
	if sid == "" {
		return "", permanent("identify number: no account SID is set")
	}
	if p := c.Settings[SettingPhoneNumber]; p != "" {
		return "twilio:" + sid + ":" + p, nil
	}
	if wa := c.Settings[SettingWhatsAppNumber]; wa != "" {
		return "twilio:" + sid + ":whatsapp:" + wa, nil
	}
	return "", permanent("identify number: neither a phone number nor a WhatsApp sender is set")
}
