package console

import (
	"context"
	"errors"
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// ResetPassword gives the admin username a new one-time password and returns
// it: every session of the admin ends, and the next sign-in leads to the
// password form. An admin of that name is created when there is none. It is
// the way back in for an admin who lost the password (the command line's
// `connector console reset-password`); the audit trail records it.
func ResetPassword(ctx context.Context, db *sqldb.DB, username string) (string, error) {
	st := &store{db: db, now: time.Now}
	username = normalizeUsername(username)
	if username == "" || len(username) > 100 {
		return "", errors.New("console: user name must be 1 to 100 characters")
	}
	pw := newOneTimePassword()
	a, err := st.adminByName(ctx, username)
	action := "admin.reset-password"
	switch {
	case errors.Is(err, errNoAdmin):
		var created bool
		a, created, err = st.createAdmin(ctx, username, hashPassword(pw), true)
		if err == nil && !created {
			err = errors.New("console: the admin was created meanwhile; run the command again")
		}
		action = "admin.create"
	case err == nil:
		err = st.setPassword(ctx, a.ID, hashPassword(pw), true, "")
	}
	if err != nil {
		return "", err
	}
	if err := st.audit(ctx, auditEntry{Actor: "command line", Action: action, Target: a.ID, Detail: "one-time password for " + username}); err != nil {
		return "", err
	}
	return pw, nil
}
