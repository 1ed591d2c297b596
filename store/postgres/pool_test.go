package postgres_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/postgres"
)

// Every request with a session holds a connection for a round trip: the
// default pool must not make a busy gateway queue (pgxpool's own default
// is max(4, CPUs)); the URL and Config still choose.
func TestPoolSize(t *testing.T) {
	url := testenv.PostgresURL(t)
	if got, want := postgres.PoolMaxConns(newStore(t, postgres.Config{URL: url})), int32(max(16, 4*runtime.GOMAXPROCS(0))); got != want {
		t.Errorf("default pool: %d connections, want %d", got, want)
	}
	if got := postgres.PoolMaxConns(newStore(t, postgres.Config{URL: url, MaxConns: 3})); got != 3 {
		t.Errorf("Config.MaxConns 3: pool of %d", got)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	if got := postgres.PoolMaxConns(newStore(t, postgres.Config{URL: url + sep + "pool_max_conns=5", Schema: freshSchema(t, url)})); got != 5 {
		t.Errorf("pool_max_conns=5 in the URL: pool of %d", got)
	}
}
