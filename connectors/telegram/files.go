package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/connector-gateway/connector/connectors"
)

// FetchFile streams a file behind one of the connector's gateway links:
// getFile for its path, then a download from the Bot API's file endpoint
// (built from Options.APIEndpoint, so a local Bot API server or a test
// server serves files too; the library's own file link always points at
// api.telegram.org). An avatar reference first looks up the user's current
// profile photo with getUserProfilePhotos.
//
// A file Telegram does not have (any more), or a user without a visible
// profile photo, is an error wrapping connectors.ErrNoFile. A file over
// the 20 MB download limit is refused before downloading. Errors never
// contain the token, which is part of the download URL.
func (cn *Connector) FetchFile(ctx context.Context, c connectors.Conn, ref string) (connectors.FileContent, error) {
	token := c.Settings[SettingBotToken]
	if token == "" {
		return connectors.FileContent{}, permanent("file: no bot token is set")
	}
	var fileID string
	switch {
	case strings.HasPrefix(ref, refFile) && len(ref) > len(refFile):
		fileID = strings.TrimPrefix(ref, refFile)
	case strings.HasPrefix(ref, refAvatar):
		userID, err := strconv.ParseInt(strings.TrimPrefix(ref, refAvatar), 10, 64)
		if err != nil || userID <= 0 {
			return connectors.FileContent{}, fmt.Errorf("telegram: file: bad avatar reference: %w", connectors.ErrNoFile)
		}
		if fileID, err = cn.avatarFileID(ctx, token, userID); err != nil {
			return connectors.FileContent{}, err
		}
	default:
		return connectors.FileContent{}, fmt.Errorf("telegram: file: unknown reference: %w", connectors.ErrNoFile)
	}

	f, err := cn.bot(ctx, token).GetFile(tgbotapi.FileConfig{FileID: fileID})
	if err != nil {
		var apiErr *tgbotapi.Error
		if errors.As(err, &apiErr) && apiErr.Code == 400 {
			if strings.Contains(strings.ToLower(apiErr.Message), "too big") {
				return connectors.FileContent{}, permanent("file: the file is larger than the 20 MB Telegram lets bots download")
			}
			return connectors.FileContent{}, fmt.Errorf("telegram: file: %s: %w", scrub(apiErr.Message, token), connectors.ErrNoFile)
		}
		return connectors.FileContent{}, mapError(ctx, "get file", token, err)
	}
	if f.FileSize > maxDownload {
		return connectors.FileContent{}, permanent("file: the file is larger than the 20 MB Telegram lets bots download")
	}
	if f.FilePath == "" {
		return connectors.FileContent{}, fmt.Errorf("telegram: file: Telegram gave no download path: %w", connectors.ErrNoFile)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cn.fileURL(token, f.FilePath), nil)
	if err != nil {
		return connectors.FileContent{}, &scrubbedError{msg: "telegram: file: " + scrub(err.Error(), token)}
	}
	resp, err := cn.fileClient.Do(req)
	if err != nil {
		return connectors.FileContent{}, mapError(ctx, "download file", token, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return connectors.FileContent{}, fmt.Errorf("telegram: download file: %w", connectors.ErrNoFile)
	default:
		resp.Body.Close()
		return connectors.FileContent{}, fmt.Errorf("telegram: download file: Telegram answered %s", resp.Status)
	}
	size := resp.ContentLength
	if size < 0 && f.FileSize > 0 {
		size = int64(f.FileSize)
	}
	return connectors.FileContent{Body: resp.Body, Mime: resp.Header.Get("Content-Type"), Size: size}, nil
}

// fileURL is the download URL of a file path; it contains the token.
func (cn *Connector) fileURL(token, filePath string) string {
	segs := strings.Split(filePath, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(cn.fileEndpoint, token, strings.Join(segs, "/"))
}

// avatarFileID returns the file id of the largest size of the user's
// current profile photo.
func (cn *Connector) avatarFileID(ctx context.Context, token string, userID int64) (string, error) {
	photos, err := cn.bot(ctx, token).GetUserProfilePhotos(tgbotapi.UserProfilePhotosConfig{UserID: userID, Limit: 1})
	if err != nil {
		var apiErr *tgbotapi.Error
		if errors.As(err, &apiErr) && apiErr.Code == 400 {
			return "", fmt.Errorf("telegram: avatar: %s: %w", scrub(apiErr.Message, token), connectors.ErrNoFile)
		}
		return "", mapError(ctx, "avatar", token, err)
	}
	if len(photos.Photos) == 0 {
		return "", fmt.Errorf("telegram: avatar: the user has no profile photo the bot may see: %w", connectors.ErrNoFile)
	}
	best, area := "", -1
	for _, s := range photos.Photos[0] {
		if s.FileID != "" && s.Width*s.Height > area {
			best, area = s.FileID, s.Width*s.Height
		}
	}
	if best == "" {
		return "", fmt.Errorf("telegram: avatar: %w", connectors.ErrNoFile)
	}
	return best, nil
}

// BotKey identifies the bot behind the connection's token by its user id
// (getMe): "telegram:<id>". A token Telegram refuses is a
// *connectors.PermanentError.
func (cn *Connector) BotKey(ctx context.Context, c connectors.Conn) (string, error) {
	token := c.Settings[SettingBotToken]
	if token == "" {
		return "", permanent("identify bot: no bot token is set")
	}
	me, err := cn.bot(ctx, token).GetMe()
	if err != nil {
		return "", mapError(ctx, "identify bot", token, err)
	}
	if me.ID == 0 {
		return "", errors.New("telegram: identify bot: getMe gave no bot id")
	}
	return "telegram:" + strconv.FormatInt(me.ID, 10), nil
}
