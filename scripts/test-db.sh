#!/usr/bin/env bash
# Makes sure a local MariaDB is installed and running, and that the test user
# exists. Safe to run again. Prints the DSN for the tests on stdout.
set -euo pipefail

SOCK=/run/mysqld/mysqld.sock
USER_NAME=connector_test
USER_PASS=connector_test

log() { echo "test-db: $*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v mariadbd >/dev/null 2>&1 && ! command -v mysqld >/dev/null 2>&1; then
	log "installing mariadb-server (Debian package)"
	as_root apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq mariadb-server >&2
fi

ping() { mariadb-admin --socket="$SOCK" -uroot ping >/dev/null 2>&1 || as_root mariadb-admin --socket="$SOCK" ping >/dev/null 2>&1; }

if ! ping; then
	log "starting mariadb"
	as_root mkdir -p /run/mysqld
	as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
	if ! as_root service mariadb start >&2 2>&1; then
		# No init system (a container): start the server directly.
		BIN=$(command -v mariadbd || command -v mysqld)
		as_root sh -c "nohup $BIN --user=mysql --socket=$SOCK >/tmp/mariadb-test.log 2>&1 &"
	fi
	for _ in $(seq 1 60); do
		ping && break
		sleep 1
	done
	ping || { log "mariadb did not start"; cat /tmp/mariadb-test.log >&2 2>/dev/null || true; exit 1; }
fi

# connector bench drains a 1,000,000-event backlog (about 560 MB with its
# indexes), which runs from memory only when InnoDB's buffer pool holds it;
# Debian's default pool is 128 MB, too small for that, and then the drain
# is bound to page reads and writes (docs/scaling.md, "Sizing MariaDB").
# The pool is raised to 2 GiB on a machine with 8 GiB or more, for this
# server's life (not persisted); durability settings stay the defaults.
POOL=$((2 * 1024 * 1024 * 1024))
MEM_KB=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
CUR=$(as_root mariadb --socket="$SOCK" -uroot -N -e "SELECT @@innodb_buffer_pool_size")
if [ "${MEM_KB:-0}" -ge $((8 * 1024 * 1024)) ] && [ "$CUR" -lt "$POOL" ]; then
	log "raising innodb_buffer_pool_size to 2 GiB (was $((CUR / 1024 / 1024)) MiB)"
	as_root mariadb --socket="$SOCK" -uroot -e "SET GLOBAL innodb_buffer_pool_size = $POOL" >&2
fi

as_root mariadb --socket="$SOCK" -uroot >&2 <<SQL
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$USER_PASS';
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$USER_PASS';
GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'localhost';
GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL

echo "$USER_NAME:$USER_PASS@unix($SOCK)/"
