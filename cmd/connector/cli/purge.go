package cli

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/cmd/connector/app"
	"github.com/connector-gateway/connector/queue"
)

// purgeDeadLettersCmd deletes dead letters for good. Deleting all of a
// line's must be asked for with --all, never by leaving out the ids.
func purgeDeadLettersCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "purge (--all | DEAD_LETTER_ID...)",
		Short: "Delete a line's dead letters for good (the ids given, or --all); written to the audit trail",
		RunE: func(cmd *cobra.Command, args []string) error {
			lineID, _ := cmd.Flags().GetString("line")
			all, _ := cmd.Flags().GetBool("all")
			if all == (len(args) > 0) {
				return errors.New("give the dead letter ids to purge, or --all (not both)")
			}
			var ids []int64
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return fmt.Errorf("dead letter id %q is not a number", a)
				}
				ids = append(ids, id)
			}
			actor := "cli"
			if u, err := user.Current(); err == nil {
				actor = "cli:" + u.Username
			}
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				n, err := s.Outbox.PurgeDeadLetters(ctx, lineID, ids, queue.AuditEntry{Actor: actor})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "purged %d dead letter(s)\n", n)
				return nil
			})
		},
	}
	c.Flags().String("line", "", "line id (required)")
	c.Flags().Bool("all", false, "purge all of the line's dead letters")
	_ = c.MarkFlagRequired("line")
	return c
}
