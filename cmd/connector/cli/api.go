package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/portal/sdk"
)

// Environment variables of `connector api`, for a CLI that runs away from
// the gateway's database.
const (
	envPortalID     = "CONNECTOR_PORTAL_ID"
	envPortalSecret = "CONNECTOR_PORTAL_SECRET"
	envURL          = "CONNECTOR_URL"
)

// errAPIStatus is a non-2xx answer: its body is already printed, so Main
// prints nothing more but exits non-zero.
var errAPIStatus = fmt.Errorf("%w: the gateway refused the call", errUsage)

func apiCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "api METHOD PATH",
		Short: "Sign and send one portal API call, print the JSON answer (like gh api)",
		Long: `Sign one call to the portal API with a portal's secret and print the answer,
pretty-printed, to stdout. A non-2xx answer prints the gateway's error body and
exits with status 1.

The portal's secret is read from the database (--portal, or the only portal
there is), or from CONNECTOR_PORTAL_ID and CONNECTOR_PORTAL_SECRET when both are
set (a CLI that runs away from the gateway). The gateway is reached at --url, or
CONNECTOR_URL, or http://<addr> of the configuration.

Examples:
  connector api GET /v1/lines
  connector api POST /v1/lines --data '{"name": "Support"}'
  connector api POST /v1/connections/con_.../messages --data @reply.json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			method, path := strings.ToUpper(args[0]), args[1]
			if !strings.HasPrefix(path, "/") {
				path = "/" + path
			}
			data, _ := cmd.Flags().GetString("data")
			body, err := apiBody(data)
			if err != nil {
				return err
			}
			client, err := apiClient(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			status, answer, err := client.Raw(ctx, method, path, body, nil)
			if err != nil {
				return err
			}
			printAnswer(cmd, answer)
			if status < 200 || status > 299 {
				fmt.Fprintf(cmd.ErrOrStderr(), "connector: %s %s: HTTP %d\n", method, path, status)
				return errAPIStatus
			}
			return nil
		},
	}
	c.Flags().String("data", "", "request body: JSON, or @FILE to read it from a file (@- for stdin)")
	c.Flags().String("portal", "", "portal id whose secret signs the call (default: "+envPortalID+", or the only portal in the database)")
	c.Flags().String("url", "", "gateway base URL (default: "+envURL+", or http://<addr>)")
	return c
}

// apiBody reads --data: inline JSON or @file; it must be JSON, so a typo is
// caught here rather than as a 400 from the gateway.
func apiBody(data string) ([]byte, error) {
	if data == "" {
		return nil, nil
	}
	body := []byte(data)
	if name, ok := strings.CutPrefix(data, "@"); ok {
		var err error
		if name == "-" {
			body, err = readAll(os.Stdin)
		} else {
			body, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, fmt.Errorf("api: --data: %w", err)
		}
	}
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		return nil, errors.New("api: --data is not valid JSON")
	}
	return body, nil
}

func readAll(f *os.File) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(f)
	return b.Bytes(), err
}

// apiClient finds the portal, its secret and the gateway's URL.
func apiClient(cmd *cobra.Command) (*sdk.Client, error) {
	portalID, _ := cmd.Flags().GetString("portal")
	base, _ := cmd.Flags().GetString("url")
	if base == "" {
		base = os.Getenv(envURL)
	}
	envID, envSecret := os.Getenv(envPortalID), os.Getenv(envPortalSecret)
	if portalID == "" {
		portalID = envID
	}
	if envSecret != "" && portalID == envID && portalID != "" && base != "" {
		return &sdk.Client{BaseURL: strings.TrimRight(base, "/"), PortalID: portalID, Secret: envSecret}, nil
	}
	cfg, err := loadConfig(cmd.Flags())
	if err != nil {
		return nil, err
	}
	if base == "" {
		base = "http://" + cfg.Addr
	}
	client := &sdk.Client{BaseURL: strings.TrimRight(base, "/"), PortalID: portalID}
	if envSecret != "" && portalID == envID && portalID != "" {
		client.Secret = envSecret
		return client, nil
	}
	err = withStore(cmd, func(ctx context.Context, s *app.Store) error {
		if client.PortalID == "" {
			ps, err := s.Records.ListPortals(ctx)
			if err != nil {
				return err
			}
			if len(ps) != 1 {
				return fmt.Errorf("api: %d portals in the database; name one with --portal or %s", len(ps), envPortalID)
			}
			client.PortalID = ps[0].ID
		}
		p, err := s.Records.GetPortal(ctx, client.PortalID)
		if err != nil {
			return fmt.Errorf("api: portal %s: %w", client.PortalID, err)
		}
		if len(p.Secrets) == 0 {
			return fmt.Errorf("api: portal %s has no signing secret", p.ID)
		}
		// During a rotation the newest secret is the one that stays.
		client.Secret = p.Secrets[len(p.Secrets)-1]
		return nil
	})
	return client, err
}

// printAnswer writes a JSON answer indented, anything else as it came.
func printAnswer(cmd *cobra.Command, answer []byte) {
	if len(bytes.TrimSpace(answer)) == 0 {
		return
	}
	var out bytes.Buffer
	if err := json.Indent(&out, answer, "", "  "); err != nil {
		out.Reset()
		out.Write(answer)
	}
	if out.Bytes()[out.Len()-1] != '\n' {
		out.WriteByte('\n')
	}
	_, _ = cmd.OutOrStdout().Write(out.Bytes())
}
