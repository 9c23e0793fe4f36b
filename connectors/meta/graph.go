package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxAnswer bounds how much of a Graph API answer is read (not media).
const maxAnswer = 1 << 20

// apiError is the Graph API's error object
// ({"error":{"message","type","code","error_subcode","error_data",...}})
// with the HTTP status it came with.
type apiError struct {
	HTTPStatus int
	Message    string `json:"message"`
	Type       string `json:"type"`
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	ErrorData  struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

func (e *apiError) Error() string {
	msg := firstNonEmpty(e.ErrorData.Details, e.Message, http.StatusText(e.HTTPStatus))
	if e.Code == 0 {
		return fmt.Sprintf("Graph API answered %d: %s", e.HTTPStatus, msg)
	}
	if e.Subcode != 0 {
		return fmt.Sprintf("Meta error %d/%d: %s", e.Code, e.Subcode, msg)
	}
	return fmt.Sprintf("Meta error %d: %s", e.Code, msg)
}

// call makes one Graph API request: method on base/version + path, with
// the token as a bearer token (never in the URL), in a JSON body (when in
// is not nil), and decodes a 2xx JSON answer into out (when not nil). A
// non-2xx answer is an *apiError. Errors are not yet mapped (see mapError).
func (g *graph) call(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var wrap struct {
			Error *apiError `json:"error"`
		}
		if json.Unmarshal(raw, &wrap) != nil || wrap.Error == nil {
			wrap.Error = &apiError{}
		}
		wrap.Error.HTTPStatus = resp.StatusCode
		return wrap.Error
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("unreadable answer (%s): %w", strings.TrimSpace(resp.Header.Get("Content-Type")), err)
	}
	return nil
}
