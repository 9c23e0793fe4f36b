package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/connector-gateway/connector/connectors"
)

// fileRefPrefix marks a file reference that names a Slack file id, for files
// whose event did not carry a download URL (Slack Connect channels send
// "file_access": "check_file_info"); FetchFile asks files.info for it.
const fileRefPrefix = "file:"

// files turns the files of a message into gateway links. The link's
// reference is the file's url_private_download (or url_private): Slack
// serves it only with the bot token, which FetchFile adds, so the portal
// never needs a Slack secret. Deleted files are left out; files Slack hides
// (free plan limits) are listed as too large, with no link; files hosted
// elsewhere (Google Drive…) keep their own external link.
func files(c connectors.Conn, in []slackapi.File) []connectors.File {
	var out []connectors.File
	for _, f := range in {
		if f.Mode == "tombstone" {
			continue
		}
		name := firstNonEmpty(f.Name, f.Title, f.ID)
		file := connectors.File{Name: name, Mime: f.Mimetype, Size: int64(f.Size), Kind: fileKind(f)}
		ref := firstNonEmpty(f.URLPrivateDownload, f.URLPrivate)
		switch {
		case f.Mode == "hidden_by_limit":
			file.TooLarge = true
		case f.Mode == "external" || f.IsExternal:
			if f.ExternalURL != nil && *f.ExternalURL != "" {
				file.URL = *f.ExternalURL
			} else {
				file.URL = f.URLPrivate
			}
		case c.Files == nil:
			// No public URL: the file is listed without a link.
		case ref != "":
			file.URL = c.Files.FileURL(ref, name, f.Mimetype)
		case f.ID != "":
			file.URL = c.Files.FileURL(fileRefPrefix+f.ID, name, f.Mimetype)
		}
		out = append(out, file)
	}
	return out
}

// fileKind maps a Slack file to the protocol's kinds.
func fileKind(f slackapi.File) string {
	switch {
	case strings.HasPrefix(f.Mimetype, "image/"):
		return "photo"
	case strings.HasPrefix(f.Mimetype, "video/"):
		return "video"
	case strings.HasPrefix(f.Mimetype, "audio/"):
		return "audio"
	}
	return "document"
}

// FetchFile streams a file named by a reference files put in a link: a
// Slack private URL, fetched with the bot token as a bearer token, or a
// file id, resolved with files.info first. The token is only ever sent to
// an https URL on a Slack host or to the configured API host (the fake API
// in tests); any other URL is refused, so a crafted reference cannot
// exfiltrate it.
func (cn *Connector) FetchFile(ctx context.Context, c connectors.Conn, ref string) (connectors.FileContent, error) {
	token := c.Settings[SettingBotToken]
	if id, ok := strings.CutPrefix(ref, fileRefPrefix); ok {
		f, _, _, err := cn.api(token, "").GetFileInfoContext(ctx, id, 0, 0)
		if err != nil {
			return connectors.FileContent{}, mapError(ctx, "file info", err)
		}
		ref = firstNonEmpty(f.URLPrivateDownload, f.URLPrivate)
		if ref == "" {
			return connectors.FileContent{}, &connectors.PermanentError{Err: fmt.Errorf("slack: file %s has no download URL", id)}
		}
	}
	if err := cn.tokenMayGoTo(ref); err != nil {
		return connectors.FileContent{}, &connectors.PermanentError{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return connectors.FileContent{}, fmt.Errorf("slack: file request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := cn.download.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return connectors.FileContent{}, fmt.Errorf("slack: download file: %w", ctx.Err())
		}
		return connectors.FileContent{}, fmt.Errorf("slack: download file: %w", errors.Unwrap(err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		err := fmt.Errorf("slack: download file: Slack answered %s", resp.Status)
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
			return connectors.FileContent{}, &connectors.PermanentError{Err: err}
		}
		return connectors.FileContent{}, err
	}
	// Slack answers an unauthenticated file request with its HTML sign-in
	// page and status 200; a bot token without files:read gets the same.
	mime := resp.Header.Get("Content-Type")
	if strings.HasPrefix(mime, "text/html") && resp.Request != nil && resp.Request.URL.String() != req.URL.String() {
		resp.Body.Close()
		return connectors.FileContent{}, &connectors.PermanentError{Err: errors.New("slack: download file: Slack redirected to a sign-in page; the bot token needs the files:read scope")}
	}
	return connectors.FileContent{Body: resp.Body, Mime: mime, Size: resp.ContentLength}, nil
}

// tokenMayGoTo checks that raw is a URL the bot token may be sent to.
func (cn *Connector) tokenMayGoTo(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("slack: file reference %q is not a URL", raw)
	}
	host := strings.ToLower(u.Hostname())
	if u.Scheme == "https" && (host == "slack.com" || strings.HasSuffix(host, ".slack.com") ||
		host == "slack-edge.com" || strings.HasSuffix(host, ".slack-edge.com") ||
		host == "slack-gov.com" || strings.HasSuffix(host, ".slack-gov.com")) {
		return nil
	}
	if api, err := url.Parse(cn.apiURL); err == nil && api.Host != "" && strings.EqualFold(api.Host, u.Host) && api.Scheme == u.Scheme {
		return nil
	}
	return fmt.Errorf("slack: refusing to send the bot token to %s, which is not a Slack host", u.Host)
}
