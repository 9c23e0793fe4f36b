package sqldb

// ProbeScripts is probeScripts, for the external tests.
var ProbeScripts = probeScripts

// UsesScripts reports whether db sends scripts in one round trip.
func (db *DB) UsesScripts() bool { return db.scripts != nil }
