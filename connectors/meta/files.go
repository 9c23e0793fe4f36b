package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/connector-gateway/connector/connectors"
)

// refMedia prefixes the file references of WhatsApp media ids.
const refMedia = "media:"

// maxMedia is the largest media file WhatsApp lets a business receive
// (100 MB, documents); anything larger is refused before downloading.
const maxMedia = 100 << 20

// mediaInfo is the answer to GET /{media-id}.
type mediaInfo struct {
	URL      string   `json:"url"`
	MimeType string   `json:"mime_type"`
	FileSize flexSize `json:"file_size"`
}

// flexSize reads a size Meta writes as a number or as a string of digits.
type flexSize int64

func (f *flexSize) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("file_size %s: %w", b, err)
	}
	*f = flexSize(n)
	return nil
}

// FetchFile streams a WhatsApp media file behind one of the connector's
// gateway links: GET /{media-id} gives a short-lived download URL, which
// is then fetched with the access token as a bearer token (it is never put
// in a URL). A media id WhatsApp no longer has (media are kept 30 days) is
// an error wrapping connectors.ErrNoFile.
func (w *WhatsApp) FetchFile(ctx context.Context, c connectors.Conn, ref string) (connectors.FileContent, error) {
	token := c.Settings[SettingAccessToken]
	if token == "" {
		return connectors.FileContent{}, permanent(TypeWhatsApp, "file: no access token is set")
	}
	id, ok := strings.CutPrefix(ref, refMedia)
	if !ok || !idShape.MatchString(id) {
		return connectors.FileContent{}, fmt.Errorf("whatsapp: file: unknown reference: %w", connectors.ErrNoFile)
	}
	var info mediaInfo
	if err := w.g.call(ctx, "GET", "/"+id, token, nil, &info); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && (ae.HTTPStatus == http.StatusNotFound || ae.Code == 100) {
			return connectors.FileContent{}, fmt.Errorf("whatsapp: file: %s: %w", ae.Error(), connectors.ErrNoFile)
		}
		return connectors.FileContent{}, mapError(ctx, TypeWhatsApp, "file", err)
	}
	if info.FileSize > maxMedia {
		return connectors.FileContent{}, permanent(TypeWhatsApp, "file: the file is larger than the 100 MB WhatsApp lets a business download")
	}
	u, err := url.Parse(info.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return connectors.FileContent{}, fmt.Errorf("whatsapp: file: the Graph API gave no usable download URL: %w", connectors.ErrNoFile)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.URL, nil)
	if err != nil {
		return connectors.FileContent{}, fmt.Errorf("whatsapp: file: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.g.fileClient.Do(req)
	if err != nil {
		return connectors.FileContent{}, mapError(ctx, TypeWhatsApp, "download file", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return connectors.FileContent{}, fmt.Errorf("whatsapp: download file: %w", connectors.ErrNoFile)
	default:
		resp.Body.Close()
		return connectors.FileContent{}, fmt.Errorf("whatsapp: download file: Meta answered %s", resp.Status)
	}
	mime := firstNonEmpty(info.MimeType, resp.Header.Get("Content-Type"))
	size := resp.ContentLength
	if size < 0 && info.FileSize > 0 {
		size = int64(info.FileSize)
	}
	return connectors.FileContent{Body: resp.Body, Mime: mime, Size: size}, nil
}

// flexSize reads both spellings through json.Unmarshaler.
var _ json.Unmarshaler = (*flexSize)(nil)
