package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/connector-gateway/connector/api/console"
	"github.com/connector-gateway/connector/cmd/connector/app"
)

func consoleCmd() *cobra.Command {
	c := &cobra.Command{Use: "console", Short: "Manage the admin console"}
	reset := &cobra.Command{
		Use:   "reset-password",
		Short: "Give an admin a new one-time password (creates the admin when missing); prints it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			user, _ := cmd.Flags().GetString("user")
			return withStore(cmd, func(ctx context.Context, s *app.Store) error {
				pw, err := console.ResetPassword(ctx, s.DB, user)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "user: %s\none_time_password: %s\nSign in at /console/ and choose a new password.\n", user, pw)
				return nil
			})
		},
	}
	reset.Flags().String("user", "admin", "admin user name")
	c.AddCommand(reset)
	return c
}
