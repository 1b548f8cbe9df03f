package store

import (
	"context"
	"fmt"
	"time"
)

// UseFormToken records that the form carrying token has been acted on and reports whether this
// is its first use. The check and the record are one INSERT, so of two sendings at the same
// moment (a double click), on any replica, exactly one is first.
func (db *DB) UseFormToken(ctx context.Context, token string, now time.Time) (first bool, err error) {
	res, err := db.exec(ctx, `INSERT INTO used_forms (token_hash, used_at) VALUES (?, ?) ON CONFLICT (token_hash) DO NOTHING`,
		hashSessionID(token), nanos(now))
	if err != nil {
		return false, fmt.Errorf("store: use form token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: use form token: %w", err)
	}
	return n == 1, nil
}

// ReleaseFormToken forgets that the form carrying token was used, after an attempt that changed
// nothing (refused before or by Mailgun): sending the form again is then a new attempt.
func (db *DB) ReleaseFormToken(ctx context.Context, token string) error {
	if _, err := db.exec(ctx, `DELETE FROM used_forms WHERE token_hash = ?`, hashSessionID(token)); err != nil {
		return fmt.Errorf("store: release form token: %w", err)
	}
	return nil
}

// DeleteUsedFormTokens deletes the records of forms used before the given time, and returns how
// many it deleted.
func (db *DB) DeleteUsedFormTokens(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM used_forms WHERE used_at < ?`, nanos(before))
	if err != nil {
		return 0, fmt.Errorf("store: delete used form tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete used form tokens: %w", err)
	}
	return n, nil
}
