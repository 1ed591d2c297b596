package postgres

import (
	"context"
	"time"
)

// PoolMaxConns is the size of s's connection pool (for tests).
func PoolMaxConns(s *Store) int32 { return s.pool.Config().MaxConns }

// GCBatch runs one GC batch on ids (for tests).
func GCBatch(s *Store, ctx context.Context, cut time.Time, ids []int64) (int, error) {
	return s.gcBatch(ctx, cut, ids)
}
