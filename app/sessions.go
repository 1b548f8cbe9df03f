package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smtpdesk/smtpdesk/auth"
	"github.com/smtpdesk/smtpdesk/store"
)

// SessionRepo is db's session records as auth keeps them: auth does not import store, so the
// two record types meet here, and the store's ErrNotFound becomes auth.ErrSessionNotFound.
func SessionRepo(db *store.DB) auth.SessionRepo { return sessionRepo{db} }

type sessionRepo struct{ db *store.DB }

func (r sessionRepo) CreateSession(ctx context.Context, rec auth.SessionRecord) error {
	return r.db.CreateSession(ctx, store.SessionRecord(rec))
}

func (r sessionRepo) GetSession(ctx context.Context, id string) (auth.SessionRecord, error) {
	rec, err := r.db.GetSession(ctx, id)
	return auth.SessionRecord(rec), sessionErr(err)
}

func (r sessionRepo) UpdateSession(ctx context.Context, id string, old, data []byte, lastSeen time.Time) error {
	return sessionErr(r.db.UpdateSession(ctx, id, old, data, lastSeen))
}

func (r sessionRepo) TouchSession(ctx context.Context, id string, lastSeen time.Time) error {
	return sessionErr(r.db.TouchSession(ctx, id, lastSeen))
}

func (r sessionRepo) DeleteSession(ctx context.Context, id string) error {
	return sessionErr(r.db.DeleteSession(ctx, id))
}

// sessionErr marks the store's "no such record" and "changed since read" as auth's, keeping the
// store's error too.
func sessionErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", auth.ErrSessionNotFound, err)
	case errors.Is(err, store.ErrChanged):
		return fmt.Errorf("%w: %w", auth.ErrSessionChanged, err)
	}
	return err
}
