package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func TestSessionCRUD(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		rec := SessionRecord{
			ID:        "raw-session-id-0123456789abcdef",
			Data:      []byte(`{"sub":"alice"}`),
			CreatedAt: t0,
			LastSeen:  t0,
			ExpiresAt: t0.Add(12 * time.Hour),
		}
		if err := db.CreateSession(ctx, rec); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if err := db.CreateSession(ctx, rec); err == nil {
			t.Errorf("CreateSession with a duplicate id: got nil error, want one")
		}
		got, err := db.GetSession(ctx, rec.ID)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		if got.ID != rec.ID || !bytes.Equal(got.Data, rec.Data) ||
			!got.CreatedAt.Equal(rec.CreatedAt) || !got.LastSeen.Equal(rec.LastSeen) || !got.ExpiresAt.Equal(rec.ExpiresAt) {
			t.Errorf("GetSession = %+v, want %+v", got, rec)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
		}

		later := t0.Add(10 * time.Minute)
		// Written over data that are not the record's (another request saved since): refused,
		// and the record is left alone.
		if err := db.UpdateSession(ctx, rec.ID, []byte(`{"sub":"bob"}`), []byte("lost"), later); !errors.Is(err, ErrChanged) {
			t.Fatalf("UpdateSession over data that changed: err = %v, want ErrChanged", err)
		}
		if got, err := db.GetSession(ctx, rec.ID); err != nil || !bytes.Equal(got.Data, rec.Data) || !got.LastSeen.Equal(t0) {
			t.Fatalf("after a refused update: %q, last seen %v (%v); want the record unchanged", got.Data, got.LastSeen, err)
		}
		if err := db.UpdateSession(ctx, rec.ID, rec.Data, []byte("v2"), later); err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		got, err = db.GetSession(ctx, rec.ID)
		if err != nil {
			t.Fatalf("GetSession after update: %v", err)
		}
		if string(got.Data) != "v2" || !got.LastSeen.Equal(later) || !got.CreatedAt.Equal(t0) {
			t.Errorf("after update got data %q last seen %v created %v", got.Data, got.LastSeen, got.CreatedAt)
		}

		if err := db.DeleteSession(ctx, rec.ID); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		if err := db.DeleteSession(ctx, rec.ID); err != nil {
			t.Errorf("second DeleteSession: %v, want nil (idempotent)", err)
		}
		if _, err := db.GetSession(ctx, rec.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetSession after delete: err = %v, want ErrNotFound", err)
		}
		if err := db.UpdateSession(ctx, rec.ID, []byte("v2"), nil, later); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateSession after delete: err = %v, want ErrNotFound", err)
		}
		// A record made with no data is updated from no data.
		empty := SessionRecord{ID: "empty-session", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateSession(ctx, empty); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdateSession(ctx, empty.ID, nil, []byte("v1"), later); err != nil {
			t.Errorf("UpdateSession of a record made with no data: %v", err)
		}
		if _, err := db.GetSession(ctx, "never-existed"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetSession unknown: err = %v, want ErrNotFound", err)
		}
	})
}

// TouchSession writes the last-seen time alone: the data another request saved since stay, as
// do the creation and expiry times; the idle rules of CountActiveSessions and
// DeleteExpiredSessions count from it; a session that is gone is ErrNotFound.
func TestTouchSession(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		rec := SessionRecord{ID: "touched-session", Data: []byte(`{"flashes":[]}`), CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(12 * time.Hour)}
		if err := db.CreateSession(ctx, rec); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		// Another request saves new data; then this one's activity write lands.
		saved := []byte(`{"flashes":[{"k":"success","m":"Password reset"}]}`)
		if err := db.UpdateSession(ctx, rec.ID, rec.Data, saved, t0.Add(time.Minute)); err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		later := t0.Add(45 * time.Minute)
		if err := db.TouchSession(ctx, rec.ID, later); err != nil {
			t.Fatalf("TouchSession: %v", err)
		}
		got, err := db.GetSession(ctx, rec.ID)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		if !bytes.Equal(got.Data, saved) || !got.LastSeen.Equal(later) || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(rec.ExpiresAt) {
			t.Errorf("after the touch got data %s last seen %v created %v expires %v; want %s, %v, %v, %v",
				got.Data, got.LastSeen, got.CreatedAt, got.ExpiresAt, saved, later, t0, rec.ExpiresAt)
		}
		// 30 min idle: active as of 45 min after the last write, 44 min after the touch.
		now := later.Add(29 * time.Minute)
		if n, err := db.CountActiveSessions(ctx, now, 30*time.Minute); err != nil || n != 1 {
			t.Errorf("CountActiveSessions after the touch = %d, %v; want 1", n, err)
		}
		if n, err := db.DeleteExpiredSessions(ctx, now, 30*time.Minute); err != nil || n != 0 {
			t.Errorf("DeleteExpiredSessions after the touch = %d, %v; want 0", n, err)
		}
		if err := db.DeleteSession(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchSession(ctx, rec.ID, later); !errors.Is(err, ErrNotFound) {
			t.Errorf("TouchSession after delete: err = %v, want ErrNotFound", err)
		}
	})
}

func TestSessionIDStoredHashed(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		const raw = "SeCrEtSeSsIoNiD-do-not-store"
		if err := db.CreateSession(ctx, SessionRecord{ID: raw, Data: []byte("x"), CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		rows, err := db.sql.QueryContext(ctx, "SELECT id_hash, data FROM sessions")
		if err != nil {
			t.Fatalf("scan sessions: %v", err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var idHash string
			var data []byte
			if err := rows.Scan(&idHash, &data); err != nil {
				t.Fatalf("scan: %v", err)
			}
			n++
			if strings.Contains(idHash, raw) || bytes.Contains(data, []byte(raw)) {
				t.Errorf("raw session id found in the sessions table")
			}
			if got, want := idHash, hashSessionID(raw); got != want {
				t.Errorf("id_hash = %q, want sha256 hex %q", got, want)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("rows = %d, want 1", n)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		idle := 30 * time.Minute
		now := t0.Add(24 * time.Hour)
		recs := []struct {
			id             string
			lastSeen, exp  time.Time
			wantKeptActive bool
		}{
			{"fresh", now.Add(-time.Minute), now.Add(time.Hour), true},
			{"idle-exactly", now.Add(-idle), now.Add(time.Hour), false},
			{"idle-long", now.Add(-2 * idle), now.Add(time.Hour), false},
			{"expired-exactly", now, now, false},
			{"expired", now.Add(-time.Minute), now.Add(-time.Second), false},
			{"idle-just-inside", now.Add(-idle + time.Nanosecond*1000), now.Add(time.Hour), true},
		}
		for _, r := range recs {
			if err := db.CreateSession(ctx, SessionRecord{ID: r.id, Data: []byte(r.id), CreatedAt: t0, LastSeen: r.lastSeen, ExpiresAt: r.exp}); err != nil {
				t.Fatalf("CreateSession %s: %v", r.id, err)
			}
		}
		active, err := db.CountActiveSessions(ctx, now, idle)
		if err != nil {
			t.Fatalf("CountActiveSessions: %v", err)
		}
		if got, want := active, int64(2); got != want {
			t.Errorf("CountActiveSessions = %d, want %d", got, want)
		}
		// Without an idle rule only absolute expiry counts.
		if got, err := db.CountActiveSessions(ctx, now, 0); err != nil || got != 4 {
			t.Errorf("CountActiveSessions(idle 0) = %d, %v; want 4", got, err)
		}
		n, err := db.DeleteExpiredSessions(ctx, now, idle)
		if err != nil {
			t.Fatalf("DeleteExpiredSessions: %v", err)
		}
		if got, want := n, int64(4); got != want {
			t.Errorf("DeleteExpiredSessions deleted %d, want %d", got, want)
		}
		for _, r := range recs {
			_, err := db.GetSession(ctx, r.id)
			if kept := err == nil; kept != r.wantKeptActive {
				t.Errorf("session %s kept = %v (err %v), want %v", r.id, kept, err, r.wantKeptActive)
			}
		}
	})
}

func TestOpenDSN(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		dsn         string
		wantDialect string
		wantErr     bool
	}{
		{"", "", true},
		{dir + "/plain.db", DialectSQLite, false},
		{"sqlite:" + dir + "/prefixed.db", DialectSQLite, false},
		{"file:" + dir + "/uri.db", DialectSQLite, false},
		{dir + "/bad?x=1", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			db, err := Open(context.Background(), tt.dsn)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Open(%q) err = %v, wantErr %v", tt.dsn, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer db.Close()
			if got := db.Dialect(); got != tt.wantDialect {
				t.Errorf("Dialect = %q, want %q", got, tt.wantDialect)
			}
			var mode string
			if err := db.sql.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
				t.Errorf("journal_mode = %q (%v), want wal", mode, err)
			}
			// Every commit durable, the audit trail's included: 2 is FULL (NORMAL is 1).
			var sync int
			if err := db.sql.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
				t.Errorf("synchronous = %d (%v), want 2 (FULL)", sync, err)
			}
		})
	}
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		// Several handles opening the same database at once, like replicas starting.
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				d, err := Open(ctx, db.dsn)
				if err == nil {
					err = d.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Errorf("concurrent Open: %v", err)
			}
		}
		var n int
		if err := db.sql.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		ms, _ := db.migrations()
		if n != len(ms) {
			t.Errorf("schema_migrations rows = %d, want %d", n, len(ms))
		}
	})
}

// TestSessionReadsReuseConnections: after a burst of concurrent work, as under a burst of page
// views, the pool keeps its connections for the next one instead of closing all but two
// (database/sql's default), which made every session lookup beyond the second open a connection;
// and a burst larger than the pool waits for its connections instead of opening more.
func TestSessionReadsReuseConnections(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		rec := SessionRecord{ID: "pool-" + t.Name(), Data: []byte(`{}`), CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.CreateSession(ctx, rec); err != nil {
			t.Fatal(err)
		}
		// Hold maxIdleConns connections at once, then give them all back.
		conns := make([]*sql.Conn, maxIdleConns)
		for i := range conns {
			c, err := db.sql.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
		}
		before := db.sql.Stats()
		for _, c := range conns {
			c.Close()
		}
		after := db.sql.Stats()
		if closed := after.MaxIdleClosed - before.MaxIdleClosed; closed != 0 {
			t.Errorf("%d of %d connections were closed when given back, for want of idle room", closed, maxIdleConns)
		}
		// The next burst of lookups opens nothing new.
		var wg sync.WaitGroup
		lookups := func() { // maxIdleConns session lookups at once, counted by wg
			for range maxIdleConns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := db.GetSession(ctx, rec.ID); err != nil {
						t.Error(err)
					}
				}()
			}
		}
		lookups()
		wg.Wait()
		if open := db.sql.Stats().OpenConnections; open > after.OpenConnections {
			t.Errorf("open connections went from %d to %d", after.OpenConnections, open)
		}
		// A burst larger than the pool waits for connections rather than opening extra ones that
		// would be closed again when given back: with every connection taken, further lookups
		// wait (the pool's WaitCount rises) instead of finishing on connections of their own.
		for i := range conns {
			c, err := db.sql.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
		}
		waits := db.sql.Stats().WaitCount
		done := make(chan struct{})
		lookups()
		go func() { wg.Wait(); close(done) }()
	waiting:
		for db.sql.Stats().WaitCount-waits < maxIdleConns {
			select {
			case <-done: // the lookups got connections beyond the pool's
				break waiting
			case <-time.After(time.Millisecond):
			}
		}
		for _, c := range conns {
			c.Close()
		}
		<-done
		if st := db.sql.Stats(); st.OpenConnections > maxIdleConns || st.MaxIdleClosed != before.MaxIdleClosed {
			t.Errorf("%d lookups with the pool's %d connections taken: %d connections open, %d closed for want of idle room",
				maxIdleConns, maxIdleConns, st.OpenConnections, st.MaxIdleClosed-before.MaxIdleClosed)
		}
	})
}

// TestDeleteSessionsMatching: the sessions whose data match go, the others stay, on both
// databases.
func TestDeleteSessionsMatching(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		for _, r := range []struct{ id, who string }{{"s-ada-1", "ada"}, {"s-bob", "bob"}, {"s-ada-2", "ada"}} {
			rec := SessionRecord{ID: r.id, Data: []byte(`{"who":"` + r.who + `"}`), CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := db.CreateSession(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		n, err := db.DeleteSessionsMatching(ctx, func(data []byte) bool { return bytes.Contains(data, []byte(`"ada"`)) })
		if err != nil || n != 2 {
			t.Fatalf("DeleteSessionsMatching = %d, %v; want 2", n, err)
		}
		for id, want := range map[string]bool{"s-ada-1": false, "s-ada-2": false, "s-bob": true} {
			if _, err := db.GetSession(ctx, id); (err == nil) != want {
				t.Errorf("session %s: GetSession err %v, want kept %v", id, err, want)
			}
		}
	})
}

// TestDeleteExpiredSessionsWithoutIdleRule: with no idle rule (idle 0) only the absolute expiry
// deletes: a session last seen long ago but not expired stays, as CountActiveSessions(now, 0)
// counts it.
func TestDeleteExpiredSessionsWithoutIdleRule(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		now := t0.Add(24 * time.Hour)
		for id, r := range map[string]struct{ lastSeen, exp time.Time }{
			"idle-a-day":   {t0, now.Add(time.Hour)},
			"seen-now":     {now, now.Add(time.Hour)},
			"just-expired": {now, now},
		} {
			if err := db.CreateSession(ctx, SessionRecord{ID: id, CreatedAt: t0, LastSeen: r.lastSeen, ExpiresAt: r.exp}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.DeleteExpiredSessions(ctx, now, 0); err != nil || n != 1 {
			t.Errorf("DeleteExpiredSessions(idle 0) = %d, %v; want 1 (just-expired)", n, err)
		}
		for id, want := range map[string]bool{"idle-a-day": true, "seen-now": true, "just-expired": false} {
			if _, err := db.GetSession(ctx, id); (err == nil) != want {
				t.Errorf("session %s: GetSession err %v, want kept %v", id, err, want)
			}
		}
	})
}

// TestSessionWritesTouchOneSession: the activity write, the data write and the delete of one
// session leave every other session as it was.
func TestSessionWritesTouchOneSession(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		other := SessionRecord{ID: "other-session", Data: []byte("other"), CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}
		for _, id := range []string{"this-session", other.ID} {
			rec := other
			rec.ID = id
			if err := db.CreateSession(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		later := t0.Add(time.Minute)
		if err := db.TouchSession(ctx, "this-session", later); err != nil {
			t.Fatal(err)
		}
		if err := db.UpdateSession(ctx, "this-session", other.Data, []byte("mine"), later); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteSession(ctx, "this-session"); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetSession(ctx, other.ID)
		if err != nil || !bytes.Equal(got.Data, other.Data) || !got.LastSeen.Equal(t0) {
			t.Errorf("the other session after this one's writes = %q, last seen %v (%v); want %q, %v", got.Data, got.LastSeen, err, other.Data, t0)
		}
	})
}
