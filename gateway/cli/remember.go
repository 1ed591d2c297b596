package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	goredis "github.com/redis/go-redis/v9"

	"github.com/sessiond/sessiond/gateway/config"
	"github.com/sessiond/sessiond/remember"
	rememberredis "github.com/sessiond/sessiond/remember/redisstore"
	"github.com/sessiond/sessiond/remember/sqlstore"
)

// openRememberStore keeps remember-me keys beside the sessions: a table in
// the SQLite file or the PostgreSQL database, keys on the Redis server,
// memory with the memory store (and in check mode); with the cookie store,
// beside its revocation list (the SQLite file or the Redis server).
func openRememberStore(ctx context.Context, sc config.Store, check bool) (remember.Store, func() error, error) {
	none := func() error { return nil }
	var driver, dsn string
	var dialect sqlstore.Dialect
	sqlitePath := "sessiond.db"
	switch {
	case check || sc.Memory != nil:
		return remember.NewMemoryStore(), none, nil
	case sc.Postgres != nil:
		driver, dsn, dialect = "pgx", sc.Postgres.DSN.Reveal(), sqlstore.Postgres
	case sc.Redis != nil:
		return openRedisRemember(sc.Redis.URL.Reveal())
	case sc.Cookie != nil && sc.Revocations != nil && sc.Revocations.Redis != nil:
		return openRedisRemember(sc.Revocations.Redis.URL.Reveal())
	case sc.Cookie != nil:
		if sc.Revocations == nil || sc.Revocations.Path == "" {
			return nil, none, errors.New("remember-me with the cookie store needs store.revocations")
		}
		sqlitePath = sc.Revocations.Path
	case sc.SQLite != nil:
		sqlitePath = sc.SQLite.Path
	}
	if driver == "" {
		driver, dsn, dialect = "sqlite", "file:"+sqlitePath+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate", sqlstore.SQLite
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

// openRedisRemember keeps remember-me keys on the Redis server at url.
func openRedisRemember(url string) (remember.Store, func() error, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, nil, fmt.Errorf("remember-me store: %w", err)
	}
	c := goredis.NewClient(opt)
	st, err := rememberredis.New(rememberredis.Config{Client: c})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return st, c.Close, nil
}
