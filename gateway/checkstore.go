package gateway

import (
	"context"
	"time"

	"github.com/sessiond/sessiond/session"
)

// checkStore lets CheckSite build a session manager without a store: it
// is never called, because CheckSite serves no request.
type checkStore struct{}

func (checkStore) Load(context.Context, session.Hash) (*session.Record, error) {
	return nil, session.ErrUnavailable
}
func (checkStore) Create(context.Context, *session.Record) error { return session.ErrUnavailable }
func (checkStore) Update(context.Context, *session.Record, uint64) error {
	return session.ErrUnavailable
}
func (checkStore) Delete(context.Context, string) error { return session.ErrUnavailable }
func (checkStore) ListUser(context.Context, string) ([]*session.Record, error) {
	return nil, session.ErrUnavailable
}
func (checkStore) GC(context.Context, time.Time) (int, error) { return 0, session.ErrUnavailable }
