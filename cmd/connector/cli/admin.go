package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/portal"
)

func portalCmd() *cobra.Command {
	c := &cobra.Command{Use: "portal", Short: "Manage portals"}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a portal and print its id and signing secret (shown only this once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, _ := cmd.Flags().GetString("name")
			url, _ := cmd.Flags().GetString("webhook-url")
			kind, _ := cmd.Flags().GetString("kind")
			if kind == portal.KindNative && url == "" {
				return errors.New("--webhook-url is required for a native portal (or give --kind chatwoot, bitrix24 or rt)")
			}
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				p, secret, err := s.Records.CreatePortalOfKind(ctx, name, url, kind)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "portal_id: %s\nsigning_secret: %s\n", p.ID, secret)
				return nil
			})
		},
	}
	create.Flags().String("name", "", "portal name (required)")
	create.Flags().String("webhook-url", "", "URL the gateway posts batches to (required for a native portal)")
	create.Flags().String("kind", portal.KindNative, "how the portal gets its messages: native (signed batches), or a helpdesk adapter (chatwoot, bitrix24, rt) whose settings come with set-kind")
	_ = create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use:   "list",
		Short: "List portals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				ps, err := s.Records.ListPortals(ctx)
				if err != nil {
					return err
				}
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tNAME\tKIND\tWEBHOOK URL\tSTATUS\tSECRETS")
				for _, p := range ps {
					kind := p.Kind
					if kind == "" {
						kind = portal.KindNative
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", p.ID, p.Name, kind, p.WebhookURL, p.Status, len(p.Secrets))
				}
				return w.Flush()
			})
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-secret PORTAL_ID",
		Short: "Add a new signing secret (batches are signed with old and new until finish-rotation)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				secret, err := s.Records.AddSecret(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "signing_secret: %s\n", secret)
				return nil
			})
		},
	}
	finish := &cobra.Command{
		Use:   "finish-rotation PORTAL_ID SECRET",
		Short: "Keep only the given signing secret",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				return s.Records.KeepOnlySecret(ctx, args[0], args[1])
			})
		},
	}
	c.AddCommand(create, list, rotate, finish, setKindCmd())
	return c
}

func lineCmd() *cobra.Command {
	c := &cobra.Command{Use: "line", Short: "Manage lines"}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a line on a portal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			portalID, _ := cmd.Flags().GetString("portal")
			name, _ := cmd.Flags().GetString("name")
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				l, err := s.Records.CreateLine(ctx, portalID, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "line_id: %s\n", l.ID)
				return nil
			})
		},
	}
	create.Flags().String("portal", "", "portal id (required)")
	create.Flags().String("name", "", "line name (required)")
	_ = create.MarkFlagRequired("portal")
	_ = create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use:   "list",
		Short: "List lines with their queue state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			portalID, _ := cmd.Flags().GetString("portal")
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				ls, err := s.Records.ListLines(ctx, portalID)
				if err != nil {
					return err
				}
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tPORTAL\tNAME\tSTATUS\tPENDING\tLOCKED UNTIL\tDEAD LETTERS\tLAST ERROR")
				for _, l := range ls {
					st, err := s.Outbox.Status(ctx, l.ID)
					if err != nil {
						return err
					}
					locked := "-"
					if st.LockedUntil != nil {
						locked = st.LockedUntil.Format("2006-01-02 15:04:05Z")
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", l.ID, l.PortalID, l.Name, l.Status, st.Pending, locked, st.DeadLetters, st.LastError)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().String("portal", "", "only this portal's lines")
	c.AddCommand(create, list)
	return c
}

func connectionCmd() *cobra.Command {
	c := &cobra.Command{Use: "connection", Short: "Inspect connections"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List connections (settings are never printed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lineID, _ := cmd.Flags().GetString("line")
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				cs, err := s.Records.ListConnections(ctx, lineID)
				if err != nil {
					return err
				}
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tLINE\tCONNECTOR\tACTIVE\tSTATUS\tLAST ERROR")
				for _, c := range cs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\n", c.ID, c.LineID, c.Connector, c.Active, c.Status, c.LastError)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().String("line", "", "only this line's connections")
	c.AddCommand(list)
	return c
}

func deadLettersCmd() *cobra.Command {
	c := &cobra.Command{Use: "deadletters", Short: "List, replay and purge events that expired undelivered"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List a line's dead letters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lineID, _ := cmd.Flags().GetString("line")
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				dls, err := s.Outbox.DeadLetters(ctx, lineID, 0, 1000)
				if err != nil {
					return err
				}
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tEVENT\tCREATED\tDIED\tREASON")
				for _, d := range dls {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", d.ID, d.EventID, d.CreatedAt.Format("2006-01-02 15:04:05Z"), d.DiedAt.Format("2006-01-02 15:04:05Z"), d.Reason)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().String("line", "", "line id (required)")
	_ = list.MarkFlagRequired("line")
	replay := &cobra.Command{
		Use:   "replay [DEAD_LETTER_ID...]",
		Short: "Put a line's dead letters (all, or the ids given) back in the outbox, in their original order",
		RunE: func(cmd *cobra.Command, args []string) error {
			lineID, _ := cmd.Flags().GetString("line")
			var ids []int64
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return fmt.Errorf("dead letter id %q is not a number", a)
				}
				ids = append(ids, id)
			}
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				n, err := s.Outbox.Replay(ctx, lineID, ids)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "replayed %d event(s); a running gateway delivers them within its poll interval\n", n)
				return nil
			})
		},
	}
	replay.Flags().String("line", "", "line id (required)")
	_ = replay.MarkFlagRequired("line")
	c.AddCommand(list, replay, purgeDeadLettersCmd())
	return c
}
