#!/usr/bin/env bash
# pairs.sh runs sessiond and scs one after the other, N times, for each
# backend and request of BenchmarkStores, alternating which goes first, and
# prints each pair's wall and CPU ratio (sessiond / scs) and their median
# and quartiles. On a shared or virtual machine whose speed drifts by tens
# of percent between runs, the ratio of two runs taken back to back is
# steadier than two medians taken minutes apart (BENCHMARKS.md).
#
#   bench/pairs.sh [-n pairs] [-x benchtime] [backend/request ...]
#
# Defaults: 15 pairs of 5000x, and redis/modify postgres/modify sqlite/modify.
set -euo pipefail
n=15
x=5000x
while getopts n:x: o; do
	case $o in
	n) n=$OPTARG ;;
	x) x=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(redis/modify postgres/modify sqlite/modify)
cd "$(dirname "$0")"
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .
one() { # one LIB BACKEND/REQUEST -> "ns/op cpu-ns/op"
	local be=${2%%/*} req=${2#*/}
	"$bin" 2>/dev/null -test.run '^$' -test.bench "^BenchmarkStores/$be/$1/$req\$" -test.benchtime "$x" |
		awk '/^BenchmarkStores/ { for (i = 1; i <= NF; i++) { if ($i == "ns/op") w = $(i-1); if ($i == "cpu-ns/op") c = $(i-1) } } END { if (w == "") exit 1; print w, c }'
}
for c in "${cases[@]}"; do
	echo "== $c ($n pairs of $x): sessiond wall, scs wall, wall ratio, CPU ratio"
	pairs=$(for i in $(seq 1 "$n"); do
		if [ $((i % 2)) = 1 ]; then
			s=$(one sessiond "$c"); k=$(one scs "$c")
		else
			k=$(one scs "$c"); s=$(one sessiond "$c")
		fi
		echo "$s $k" | awk '{ printf "%8.1f µs %8.1f µs  %.3f  %.3f\n", $1/1000, $3/1000, $1/$3, $2/$4 }'
	done)
	echo "$pairs"
	echo "$pairs" | awk -v c="$c" '
		{ w[NR] = $5; p[NR] = $6 }
		function q(a, n, f,   i, j, t, s) { for (i = 1; i <= n; i++) s[i] = a[i]
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
			return s[int(f * (n - 1)) + 1] }
		END { printf "%s: wall ratio median %.3f (quartiles %.3f-%.3f), CPU ratio median %.3f (quartiles %.3f-%.3f), %d pairs\n",
			c, q(w, NR, .5), q(w, NR, .25), q(w, NR, .75), q(p, NR, .5), q(p, NR, .25), q(p, NR, .75), NR }'
done
