package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/remember"
	"github.com/sessiond/sessiond/remember/sqlstore"
)

// rememberLifetime is a site's remember-me key lifetime; 0 is off.
func rememberLifetime(r config.Remember) time.Duration {
	switch {
	case !r.Enabled:
		return 0
	case r.Lifetime > 0:
		return r.Lifetime
	}
	return remember.DefaultMaxAge
}

// openRememberStore keeps remember-me keys beside the sessions: a table in
// the SQLite file or the PostgreSQL database, or memory with the memory
// store (and in check mode).
func openRememberStore(ctx context.Context, sc config.Store, check bool) (remember.Store, func() error, error) {
	none := func() error { return nil }
	var driver, dsn string
	var dialect sqlstore.Dialect
	switch {
	case check || sc.Memory != nil:
		return remember.NewMemoryStore(), none, nil
	case sc.Postgres != nil:
		driver, dsn, dialect = "pgx", sc.Postgres.DSN.Reveal(), sqlstore.Postgres
	case sc.Redis != nil || sc.Cookie != nil:
		return nil, none, fmt.Errorf("remember-me needs the SQLite, PostgreSQL or memory store: %w", errors.ErrUnsupported)
	default:
		path := "sessiond.db"
		if sc.SQLite != nil {
			path = sc.SQLite.Path
		}
		driver, dsn, dialect = "sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate", sqlstore.SQLite
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, none, err
	}
	st, err := sqlstore.New(db, sqlstore.Config{Dialect: dialect})
	if err == nil {
		err = st.Init(ctx)
	}
	if err != nil {
		db.Close()
		return nil, none, err
	}
	return st, db.Close, nil
}
