#!/bin/sh
# Gateway benchmark: sessiond (built binary) vs a bare Go reverse proxy,
# Apache httpd 2.4, nginx, HAProxy, Caddy and oauth2-proxy, driven by wrk on
# loopback. See BENCHMARKS.md "Gateway".
#
#   bench/gateway/run.sh            full run (about 6 minutes)
#   bench/gateway/run.sh -quick     2 short rounds, for iteration
#   bench/gateway/run.sh -h         every flag
#
# Installs what is missing (Debian packages; oauth2-proxy with go install)
# first, then runs the harness.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

missing=""
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need wrk wrk
need apache2 apache2
need nginx nginx
need haproxy haproxy
need caddy caddy
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

# oauth2-proxy: the harness finds it on PATH or in $(go env GOPATH)/bin; if
# it cannot be installed, its rows are skipped.
oauth2_proxy=github.com/oauth2-proxy/oauth2-proxy/v7@v7.15.6
if ! command -v oauth2-proxy >/dev/null 2>&1 && ! [ -x "$(go env GOPATH | cut -d: -f1)/bin/oauth2-proxy" ]; then
	echo "gwbench: go install $oauth2_proxy" >&2
	go install "$oauth2_proxy" || echo "gwbench: oauth2-proxy could not be installed: its rows are skipped" >&2
fi

bin=$(mktemp -d)/gwbench
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$here" && go build -o "$bin" .)
"$bin" "$@"
