package gateway

import (
	"github.com/sessiond/sessiond/gateway/login"
	"github.com/sessiond/sessiond/gateway/migrate"
)

// newMigrator imports the site's Apache sessions (gateway/migrate).
func (s *site) newMigrator() (*migrate.Migrator, error) {
	return migrate.New(migrate.Config{ModCrypto: s.cfg.ModCrypto, Claims: s.claims, Directory: s.directory,
		Reserved: reservedKey, MarkAuth: markAuth, IsSecure: s.isSecure, Audit: s.audit, Logger: s.log})
}

// directory is the site's login method with a users file, if any.
func (s *site) directory() login.Directory {
	for _, m := range s.methods {
		if d, ok := m.(login.Directory); ok {
			return d
		}
	}
	return nil
}
