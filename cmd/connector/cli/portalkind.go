package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/portal"
)

func setKindCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "set-kind PORTAL_ID --kind KIND [--set KEY=VALUE]...",
		Short: "Feed a portal into an existing helpdesk (chatwoot, bitrix24, rt) or back to the native protocol",
		Long: `set-kind changes how a portal's batches are delivered.

Kinds:
  native    the gateway's own protocol: signed batches to the portal's webhook URL (the default;
            refused for a portal created without a webhook URL)
  chatwoot  Chatwoot, through its API
  bitrix24  Bitrix24 open lines
  rt        Request Tracker 5, through its REST2 API

Each kind's settings (--set KEY=VALUE, repeatable) are described in
docs/adapters/<kind>.md; a wrong key is refused with the list of the kind's
keys. Settings are sealed in the database like the portal's secrets; when the
portal already has this kind, the stored settings are kept and --set changes
only the keys given (--set KEY= removes one).

Before saving, the adapter's live test checks the settings against the
helpdesk without changing anything there, and prints the result in plain
words; a failed test saves nothing of this call. --no-test skips it (the
helpdesk is not reachable from here yet).

Bitrix24: an expired access token is renewed by the test, and Bitrix24
takes each refresh token only once, so the renewed pair is what is saved.
If the test then fails, a renewed pair of the portal's stored tokens is
stored in their place (nothing else is); a renewed pair of tokens given
with --set is printed, to be given instead next time. Keys not given with
--set are saved as stored at that moment (a token the running gateway
renewed meanwhile is kept).`,
		Example: `  connector portal set-kind prt_123 --kind rt --set url=https://rt.example.com \
    --set queue=Support --set token=1-42-0123456789abcdef0123456789abcdef
  connector portal set-kind prt_123 --kind native`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, _ := cmd.Flags().GetString("kind")
			sets, _ := cmd.Flags().GetStringArray("set")
			noTest, _ := cmd.Flags().GetBool("no-test")
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				return setKind(ctx, cmd, s, args[0], kind, sets, noTest)
			})
		},
	}
	c.Flags().String("kind", "", "native, chatwoot, bitrix24 or rt (required)")
	c.Flags().StringArray("set", nil, "an adapter setting KEY=VALUE (repeatable; see docs/adapters/<kind>.md)")
	c.Flags().Bool("no-test", false, "save without the adapter's live test")
	_ = c.MarkFlagRequired("kind")
	return c
}

func setKind(ctx context.Context, cmd *cobra.Command, s *app.Store, id, kind string, sets []string, noTest bool) error {
	out := cmd.OutOrStdout()
	if !portal.ValidKind(kind) {
		return fmt.Errorf("unknown kind %q: use native, chatwoot, bitrix24 or rt", kind)
	}
	p, err := s.Records.GetPortal(ctx, id)
	if err != nil {
		return fmt.Errorf("portal %s: %w", id, err)
	}
	if kind == portal.KindNative {
		if len(sets) > 0 {
			return errors.New("the native kind takes no --set: it posts signed batches to the portal's webhook URL")
		}
		if err := s.Records.SetPortalKind(ctx, id, portal.KindNative, nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "portal %s: kind native (signed batches to %s)\n", id, p.WebhookURL)
		return nil
	}
	adapter, ok := app.Adapters(s, http.DefaultClient, "", nil, func() {})[kind]
	if !ok {
		return fmt.Errorf("this build has no adapter for kind %q", kind)
	}
	var stored map[string]string
	if p.Kind == kind {
		stored = p.Adapter
	}
	settings := map[string]string{}
	for k, v := range stored {
		settings[k] = v
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fmt.Errorf("--set %q: want KEY=VALUE", kv)
		}
		if v == "" {
			delete(settings, k)
		} else {
			settings[k] = v
		}
	}
	if err := portal.CheckAdapterSettings(adapter, kind, settings); err != nil {
		return err
	}
	if t, ok := adapter.(portal.Tester); ok && !noTest {
		candidate := p
		candidate.Kind, candidate.Adapter = kind, settings
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		tested, err := portal.TestCandidate(tctx, t, candidate, stored)
		cancel()
		if err != nil {
			return fmt.Errorf("live test failed, nothing saved: %w (fix the settings, or pass --no-test to save anyway)%s", err, testChanges(ctx, s, p, kind, settings, tested))
		}
		settings = tested
		fmt.Fprintf(out, "live test passed: %s accepted the settings\n", kind)
	} else if !ok {
		fmt.Fprintf(out, "kind %s has no live test; saving untested\n", kind)
	}
	// Keys this call left alone are saved as stored at this moment: a
	// token the running gateway renewed meanwhile is not put back.
	if err := s.Records.ChangePortalKind(ctx, p, kind, settings); errors.Is(err, portal.ErrPortalChanged) {
		return fmt.Errorf("portal %s changed kind while the live test ran; nothing saved: run the command again", id)
	} else if err != nil {
		return err
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(out, "portal %s: kind %s (settings: %s)\n", id, kind, strings.Join(keys, ", "))
	return nil
}

// testChanges words what a failed live test changed: tokens of the stored
// settings it renewed (and stored, since the old refresh token is spent),
// or renewed values of settings given in this call, which exist nowhere
// else and so are printed for the next attempt.
func testChanges(ctx context.Context, s *app.Store, p portal.Portal, kind string, candidate, tested map[string]string) string {
	var now map[string]string
	if cur, err := s.Records.GetPortal(ctx, p.ID); err == nil && cur.Kind == kind {
		now = cur.Adapter
	}
	stored, unsaved := portal.TestChanges(candidate, tested, now)
	var b strings.Builder
	if len(stored) > 0 {
		fmt.Fprintf(&b, "\nthe test renewed the portal's stored %s and stored them (the old ones no longer work); nothing else changed", strings.Join(stored, ", "))
	}
	if len(unsaved) > 0 {
		keys := make([]string, 0, len(unsaved))
		for k := range unsaved {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("\nthe test renewed settings given in this call, and the values given no longer work; next time give these instead:")
		for _, k := range keys {
			fmt.Fprintf(&b, " --set %s=%s", k, unsaved[k])
		}
	}
	return b.String()
}
