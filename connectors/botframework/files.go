package botframework

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// FetchFile streams an attachment behind one of the connector's gateway
// links: a contentUrl on Bot Framework's Connector service or Teams' image
// store, fetched with
// the bot's access token (refreshed once on a 401). The URL is checked
// against the service URL allow-list (plus Teams' image store,
// *.asm.skype.com) again, so the token goes nowhere else. A 404 is connectors.ErrNoFile.
func (cn *Connector) FetchFile(ctx context.Context, c connectors.Conn, ref string) (connectors.FileContent, error) {
	raw, ok := strings.CutPrefix(ref, refPrefix)
	if !ok || raw == "" {
		return connectors.FileContent{}, fmt.Errorf("botframework: file: unknown reference: %w", connectors.ErrNoFile)
	}
	u, err := cn.allowedFileURL(raw)
	if err != nil {
		return connectors.FileContent{}, fmt.Errorf("file: %w", err)
	}
	for attempt := 0; ; attempt++ {
		token, err := cn.tokens.get(ctx, c.Settings, attempt > 0)
		if err != nil {
			return connectors.FileContent{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return connectors.FileContent{}, permanent("file: %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := cn.client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return connectors.FileContent{}, fmt.Errorf("botframework: file: GET %s: %v", u.Host, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return connectors.FileContent{Body: resp.Body, Mime: resp.Header.Get("Content-Type"), Size: resp.ContentLength}, nil
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			resp.Body.Close()
			continue
		case resp.StatusCode == http.StatusNotFound:
			resp.Body.Close()
			return connectors.FileContent{}, fmt.Errorf("botframework: file: %w", connectors.ErrNoFile)
		default:
			resp.Body.Close()
			return connectors.FileContent{}, fmt.Errorf("botframework: file: the Connector service answered %s", resp.Status)
		}
	}
}
