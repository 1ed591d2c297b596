package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sessiond/sessiond/session"
)

type closableStore interface {
	session.Store
	Close()
}

// openPostgres is replaced when store/postgres lands.
func openPostgres(ctx context.Context, dsn string, log *slog.Logger) (closableStore, error) {
	return nil, errors.New("postgres store not available in this build")
}
