// Package sdk is the portal side of the gateway protocol, for portals written
// in Go: verifying and decoding the batches the gateway posts, and making
// signed calls to the gateway's API.
package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/connector-gateway/connector/connectors"
	"github.com/connector-gateway/connector/portal"
)

// Batch is what the gateway posts to a portal.
type Batch struct {
	ID     string             `json:"id"`
	Portal string             `json:"portal"`
	Line   string             `json:"line"`
	Events []connectors.Event `json:"events"`
}

// ErrTooLarge is a batch body over ReadBatch's limit.
var ErrTooLarge = errors.New("sdk: batch body over the limit")

// ReadBatch reads a batch request, verifies its signature against any of the
// portal's secrets (5-minute tolerance) and decodes it. A body over limit
// bytes is ErrTooLarge (answer 413; the gateway retries, so size the limit
// for dispatch.batch_size events). Answer 2xx only after the events are
// safely stored on the portal's side; any error means: answer non-2xx and
// store nothing, the gateway will send the batch again.
func ReadBatch(r *http.Request, secrets []string, limit int64) (Batch, error) {
	var b Batch
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return b, fmt.Errorf("sdk: read batch: %w", err)
	}
	if int64(len(body)) > limit {
		return b, ErrTooLarge
	}
	if err := portal.Verify(secrets, body, r.Header); err != nil {
		return b, fmt.Errorf("sdk: %w", err)
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, fmt.Errorf("sdk: decode batch: %w", err)
	}
	return b, nil
}

// Client makes signed calls to the gateway's portal API.
type Client struct {
	// BaseURL of the gateway, e.g. "https://gateway.example".
	BaseURL  string
	PortalID string
	Secret   string
	HTTP     *http.Client
}

// APIError is a non-2xx answer from the gateway.
type APIError struct {
	Status  int
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("gateway answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Do makes one signed call. in (if not nil) is sent as JSON; a 2xx answer is
// decoded into out (if not nil); any other answer is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any, header http.Header) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("sdk: encode: %w", err)
		}
	}
	status, raw, err := c.Raw(ctx, method, path, body, header)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return answerError(status, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("sdk: decode answer: %w", err)
		}
	}
	return nil
}

// Raw makes one signed call with body sent as it is (as JSON when not
// empty) and returns the answer's status and body whatever the status: for
// tools that show the gateway's answer verbatim (connector api). The error
// is only for a call that got no answer.
func (c *Client) Raw(ctx context.Context, method, path string, body []byte, header http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("sdk: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	req.Header.Set(portal.HeaderPortal, c.PortalID)
	if err := portal.SetHeaders(req.Header, []string{c.Secret}, "msg_"+hex.EncodeToString(id), time.Now(),
		portal.APIPayload(method, req.URL.RequestURI(), body)); err != nil {
		return 0, nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("sdk: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("sdk: read answer: %w", err)
	}
	return resp.StatusCode, raw, nil
}

// answerError decodes a non-2xx answer into an *APIError.
func answerError(status int, raw []byte) error {
	var e struct {
		Error APIError `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	e.Error.Status = status
	if e.Error.Code == "" {
		e.Error.Code = strconv.Itoa(status)
		e.Error.Message = string(bytes.TrimSpace(raw))
	}
	return &e.Error
}

// Accepted is the answer to an outbound request.
type Accepted struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Send asks the gateway to send a message through a connection. The outcome
// arrives later as a status.delivered or status.failed event whose
// status.request_id is the returned id.
func (c *Client) Send(ctx context.Context, connectionID string, m connectors.Outbound) (Accepted, error) {
	var a Accepted
	err := c.Do(ctx, http.MethodPost, "/v1/connections/"+connectionID+"/messages", m, &a, nil)
	return a, err
}
