#!/usr/bin/env bash
# The whole test suite, as CI runs it: starts (installing if needed) a local
# MariaDB, then gofmt, go vet and every test with the race detector, on
# MariaDB and SQLite. Run from anywhere: scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || { echo "test: Go is not installed (https://go.dev/doc/install)" >&2; exit 1; }

# Browser tests drive Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
	echo "test: installing chromium (Debian package)" >&2
	as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
	as_root apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >&2
fi
export CONNECTOR_TEST_CHROMIUM="${CONNECTOR_TEST_CHROMIUM:-$(command -v chromium)}"

# The Request Tracker adapter's tests run against a real RT 5: Debian's
# request-tracker5 on SQLite, served by its standalone server on loopback
# (the test writes its own RT_SiteConfig in a temp dir). About 30 s to install.
if [ ! -x /usr/share/request-tracker5/libexec/rt-server ]; then
	echo "test: installing request-tracker5 (Debian packages)" >&2
	as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
	as_root apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
		request-tracker5 rt5-db-sqlite rt5-standalone >&2
fi

# --- XMPP: the xmpp connector's tests run against a real Prosody --------
# (connectors/xmpp/xmpptest writes its config into a temp dir and starts it
# as its own process; the package's system service is not used).
if ! command -v prosody >/dev/null 2>&1; then
	echo "test: installing prosody (Debian package)" >&2
	as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
	as_root apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq prosody >&2
fi
export CONNECTOR_TEST_PROSODY="${CONNECTOR_TEST_PROSODY:-$(command -v prosody)}"
# --- end XMPP ------------------------------------------------------------

if [ -z "${CONNECTOR_TEST_MYSQL_DSN:-}" ]; then
	CONNECTOR_TEST_MYSQL_DSN="$(bash scripts/test-db.sh)"
	export CONNECTOR_TEST_MYSQL_DSN
fi
# Under CI a test that cannot reach MariaDB fails instead of skipping.
export CI="${CI:-true}"

echo "== gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "== go vet"
go vet ./...
echo "== go test -race (MariaDB and SQLite)"
go test -race -count=1 -timeout 40m "$@" ./...
