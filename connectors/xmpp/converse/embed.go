// Package converse holds the vendored Converse.js release that the xmpp
// connector's anonymous web chat page serves. The files are reproduced by
// scripts/vendor-converse.sh from the pin in package-lock.json.
package converse

import "embed"

// Static is the vendored dist: converse.min.js, converse.min.css with its
// webfonts, emoji.json (loaded by the emoji picker) and the MPL-2.0 licence
// that must travel with them.
//
//go:embed static
var Static embed.FS
