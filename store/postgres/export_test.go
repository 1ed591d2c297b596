package postgres

// PoolMaxConns is the size of s's connection pool (for tests).
func PoolMaxConns(s *Store) int32 { return s.pool.Config().MaxConns }
