package cli

import (
	"context"
	"log/slog"

	"github.com/sessiond/sessiond/store/postgres"
)

func openPostgres(ctx context.Context, dsn string, log *slog.Logger) (*postgres.Store, error) {
	return postgres.New(ctx, postgres.Config{URL: dsn, Logger: log})
}
