package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Retainer deletes audit entries older than a time (store's DeleteAuditBefore).
type Retainer interface {
	DeleteAuditBefore(ctx context.Context, t time.Time) (int64, error)
}

// RetentionActor is who the retention job's own entries name.
func RetentionActor() Actor {
	return Actor{Issuer: "smtpdesk", Subject: "retention", Name: "retention job"}
}

// RetainOnce deletes the entries older than keep (before now-keep) and
// records the run as an "audit.retention" event (outcome ok or failed) when it
// deleted something or failed: a run that found nothing to delete, every hour
// on every replica, is left to the log, not to the trail a reviewer reads.
// A failed run's entry says how many entries it deleted before failing (the
// store deletes in batches, and the batches done stay done), as no later entry
// counts them. A run that ctx ended (the process stopping) did not fail: its
// entry, if it deleted anything, is ok and says it stopped, and it returns
// ctx's error. keep <= 0 means keep forever: it does nothing.
func RetainOnce(ctx context.Context, db Retainer, keep time.Duration, now func() time.Time, rec *Recorder) (int64, error) {
	if keep <= 0 {
		return 0, nil
	}
	cutoff := now().Add(-keep).UTC()
	n, err := db.DeleteAuditBefore(ctx, cutoff)
	outcome, detail := OutcomeOK, fmt.Sprintf("deleted %d entries older than %s", n, cutoff.Format(time.RFC3339))
	switch {
	case err != nil && ctx.Err() != nil:
		// ctx ended the run: SMTP Desk is stopping, which is no failure of retention. The batches
		// done stay done and are counted here; a run that deleted nothing leaves no entry, as one
		// that found nothing to delete does.
		if n == 0 {
			return 0, fmt.Errorf("audit: retention: %w", err)
		}
		detail = fmt.Sprintf("deleted %d entries older than %s, then stopped as SMTP Desk was stopping; the next run deletes the rest", n, cutoff.Format(time.RFC3339))
	case err != nil:
		outcome, detail = OutcomeFailed, fmt.Sprintf("deleting entries older than %s failed", cutoff.Format(time.RFC3339))
		if n > 0 {
			detail = fmt.Sprintf("deleted %d entries older than %s, then failed; the next run deletes the rest", n, cutoff.Format(time.RFC3339))
		}
	}
	if rec != nil && (n > 0 || err != nil) {
		if eerr := rec.Event(ctx, RetentionActor(), Meta{}, ActionRetention, outcome, "", detail); eerr != nil && err == nil {
			err = eerr
		}
	}
	if err != nil {
		return n, fmt.Errorf("audit: retention: %w", err)
	}
	return n, nil
}

// RunRetention runs RetainOnce now and then every interval until ctx ends.
// keep <= 0 (keep forever) returns at once. Failures are logged and retried
// at the next interval; a run that ctx ends is not a failure.
func RunRetention(ctx context.Context, db Retainer, keep, every time.Duration, now func() time.Time, rec *Recorder, logger *slog.Logger) {
	if keep <= 0 {
		return
	}
	if every <= 0 {
		every = time.Hour
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		n, err := RetainOnce(ctx, db, keep, now, rec)
		switch {
		case err != nil && ctx.Err() != nil:
			logger.InfoContext(ctx, "audit retention stopped: SMTP Desk is stopping", "deleted", n)
		case err != nil:
			logger.ErrorContext(ctx, "audit retention failed", "deleted", n, "err", err)
		default:
			logger.InfoContext(ctx, "audit retention", "deleted", n, "keep", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
