package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessiond/sessiond/session"
)

// fail maps an error of operation op to the session sentinels, wrapping
// each once:
//   - unique_violation (23505) is session.ErrCollision;
//   - an error the server reports for its own state — connection
//     exceptions (08), insufficient resources (53), operator intervention
//     such as shutdown or query_canceled by statement_timeout (57), system
//     errors (58), serialization failures and deadlocks (40), lock_not_available
//     (55P03), a read-only standby (25006), internal errors (XX) — is
//     session.ErrUnavailable;
//   - any other server error (a SQL bug, a bad value) is a plain error;
//   - every error that is not from the server — refused or lost
//     connection, timeout, context ended, pool closed — is
//     session.ErrUnavailable: the store could not be asked.
func (s *Store) fail(op string, err error) error {
	for _, sentinel := range []error{session.ErrNotFound, session.ErrConflict, session.ErrCollision, session.ErrUnavailable} {
		if errors.Is(err, sentinel) {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("postgres: %s: %w: %w", op, session.ErrUnavailable, err)
	}
	if pe.Code == "23505" {
		return fmt.Errorf("postgres: %s: %w (%s)", op, session.ErrCollision, pe.ConstraintName)
	}
	class := pe.Code
	if len(class) > 2 {
		class = class[:2]
	}
	switch class {
	case "08", "53", "57", "58", "40", "XX":
		return fmt.Errorf("postgres: %s: %w: %w", op, session.ErrUnavailable, err)
	}
	switch pe.Code {
	case "55P03", "25006":
		return fmt.Errorf("postgres: %s: %w: %w", op, session.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
