#!/bin/sh
# Gateway benchmark: sessiond (built binary) vs a bare Go reverse proxy and
# Apache httpd 2.4, driven by wrk on loopback. See BENCHMARKS.md "Gateway".
#
#   bench/gateway/run.sh            full run (about 6 minutes)
#   bench/gateway/run.sh -quick     2 short rounds, for iteration
#   bench/gateway/run.sh -h         every flag
#
# Installs what is missing (Debian packages) first, then runs the harness.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need wrk wrk
need apache2 apache2
need sqlite3 sqlite3
need redis-server redis-server
need redis-cli redis-tools
need psql postgresql-client
[ -e /usr/lib/x86_64-linux-gnu/apr-util-1/apr_dbd_sqlite3-1.so ] ||
	ls /usr/lib/*/apr-util-1/apr_dbd_sqlite3-1.so >/dev/null 2>&1 || missing="$missing libaprutil1-dbd-sqlite3"
if [ -n "$missing" ]; then
	echo "gwbench: installing$missing" >&2
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
fi

bin=$(mktemp -d)/gwbench
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$here" && go build -o "$bin" .)
"$bin" "$@"
