package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFormTokens: a token is first once, even when many use it at the same moment; a released
// token is first again; old records are deleted. On both databases.
func TestFormTokens(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		var firsts atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first, err := db.UseFormToken(ctx, "token-a", t0)
				if err != nil {
					t.Error(err)
				}
				if first {
					firsts.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := firsts.Load(); n != 1 {
			t.Errorf("8 uses at once: %d were first, want 1", n)
		}
		if err := db.ReleaseFormToken(ctx, "token-a"); err != nil {
			t.Fatal(err)
		}
		if first, err := db.UseFormToken(ctx, "token-a", t0.Add(time.Hour)); err != nil || !first {
			t.Errorf("use after release = %v, %v; want first", first, err)
		}
		if first, err := db.UseFormToken(ctx, "token-b", t0); err != nil || !first {
			t.Errorf("another token = %v, %v; want first", first, err)
		}
		if n, err := db.DeleteUsedFormTokens(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
			t.Errorf("DeleteUsedFormTokens = %d, %v; want 1 (token-b)", n, err)
		}
		if first, err := db.UseFormToken(ctx, "token-a", t0); err != nil || first {
			t.Errorf("token-a after the sweep = %v, %v; want still used", first, err)
		}
	})
}

// TestDeleteUsedFormTokensBound: the sweep deletes the records of forms used before its time and
// keeps one used at that very time, which still refuses its form a second time.
func TestDeleteUsedFormTokensBound(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		for _, u := range []struct {
			token string
			at    time.Time
		}{{"before", t0.Add(-time.Nanosecond)}, {"at", t0}, {"after", t0.Add(time.Nanosecond)}} {
			if first, err := db.UseFormToken(ctx, u.token, u.at); err != nil || !first {
				t.Fatalf("UseFormToken(%s) = %v, %v; want first", u.token, first, err)
			}
		}
		if n, err := db.DeleteUsedFormTokens(ctx, t0); err != nil || n != 1 {
			t.Errorf("DeleteUsedFormTokens(t0) = %d, %v; want 1 (the one used before t0)", n, err)
		}
		for token, wantFirst := range map[string]bool{"before": true, "at": false, "after": false} {
			if first, err := db.UseFormToken(ctx, token, t0.Add(time.Hour)); err != nil || first != wantFirst {
				t.Errorf("UseFormToken(%s) after the sweep = %v, %v; want first %v", token, first, err, wantFirst)
			}
		}
	})
}
