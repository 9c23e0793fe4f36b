package queue

import (
	"time"

	"github.com/connector-gateway/connector/queue/sqldb"
)

// Short local names for the storage helpers every query here uses.

func ms(t time.Time) int64 { return sqldb.MS(t) }

func fromMS(v int64) time.Time { return sqldb.FromMS(v) }

func placeholders(n int) string { return sqldb.Placeholders(n) }
