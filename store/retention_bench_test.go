package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The trail of BenchmarkRetention: retentionEntries entries (SMTPDESK_BENCH_RETENTION_ENTRIES
// overrides it), 30 s apart, on retentionDomains domains of retentionLogins logins in all.
const (
	retentionEntries = 1_000_000
	retentionLogins  = 20_000
	retentionDomains = 300
	retentionSpacing = 30 * time.Second
)

func retentionTrailSize(tb testing.TB) int {
	n := retentionEntries
	if s := os.Getenv("SMTPDESK_BENCH_RETENTION_ENTRIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1000 {
			tb.Fatalf("SMTPDESK_BENCH_RETENTION_ENTRIES=%q: want a number of at least 1000", s)
		}
	}
	return n
}

func retentionDomain(d int) string { return fmt.Sprintf("d%03d.example", d) }

// retentionLogin is the j-th login (from 0): login j is on domain j % retentionDomains.
func retentionLogin(j int) string {
	return fmt.Sprintf("user%05d@%s", j, retentionDomain(j%retentionDomains))
}

// bulkRetentionTrail writes n entries as the store writes them (hash-chained, each action
// followed by its completion, the final_* columns and audit_logins filled in), in
// multi-row INSERTs: resets 40 %, creates 20 % (a quarter of them of system logins),
// deletes 10 % (1 in 500 of them a delete all of the domain), sign-ins 15 % and exports 15 %
// of the rest; 2 % of the actions fail. Each action names one login picked at random of
// retentionLogins; the mix is the same for every run (a fixed seed). It returns the time of
// the entry in the middle: retention before it removes half the trail.
func bulkRetentionTrail(tb testing.TB, db *DB, n int) time.Time {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	const cols = 25
	const rowsPerInsert = 400
	insertRows := func(k int) string {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO audit_log (id, kind, time, actor_issuer, actor_subject, actor_email, actor_name,
			action, domain, logins, outcome, upstream_status, upstream_message, request_id, client_ip, user_agent,
			detail, ref_id, prev_hash, hash, actor_fold, final_outcome, final_status, final_message, completed_at) VALUES `)
		row := "(" + strings.Repeat("?, ", cols-1) + "?)"
		for i := range k {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(row)
		}
		return db.rebind(sb.String())
	}
	insertLogins := func(k int) string {
		var sb strings.Builder
		sb.WriteString("INSERT INTO audit_logins (entry_id, login) VALUES ")
		for i := range k {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?)")
		}
		return db.rebind(sb.String())
	}
	fullRows, fullLogins := insertRows(rowsPerInsert), insertLogins(loginsPerInsert)

	var id int64
	var prev string
	var rowArgs, loginArgs []any
	rowsPending, loginsPending := 0, 0
	flush := func(t *tx, all bool) error {
		for rowsPending >= rowsPerInsert || (all && rowsPending > 0) {
			k := min(rowsPending, rowsPerInsert)
			q := fullRows
			if k < rowsPerInsert {
				q = insertRows(k)
			}
			if _, err := t.tx.ExecContext(ctx, q, rowArgs[:k*cols]...); err != nil {
				return err
			}
			rowArgs = append(rowArgs[:0], rowArgs[k*cols:]...)
			rowsPending -= k
		}
		for loginsPending >= loginsPerInsert || (all && loginsPending > 0) {
			k := min(loginsPending, loginsPerInsert)
			q := fullLogins
			if k < loginsPerInsert {
				q = insertLogins(k)
			}
			if _, err := t.tx.ExecContext(ctx, q, loginArgs[:2*k]...); err != nil {
				return err
			}
			loginArgs = append(loginArgs[:0], loginArgs[2*k:]...)
			loginsPending -= k
		}
		return nil
	}
	add := func(r *auditRow, final []any) {
		id++
		r.id, r.prevHash = id, prev
		h := hashRow(r)
		var ref any
		if r.refID != 0 {
			ref = r.refID
		}
		if final == nil {
			final = []any{nil, nil, nil, nil}
		}
		rowArgs = append(rowArgs, r.id, r.kind, r.time, r.actorIssuer, r.actorSubject, r.actorEmail, r.actorName,
			r.action, r.domain, r.logins, r.outcome, r.upstreamStatus, r.upstreamMessage, r.requestID, r.clientIP,
			r.userAgent, r.detail, ref, r.prevHash, h, foldActor(r.actorEmail, r.actorName))
		rowArgs = append(rowArgs, final...)
		rowsPending++
		prev = h
	}
	const perTx = 50_000
	for start := 0; start < n; start += perTx {
		err := db.writeTx(ctx, func(t *tx) error {
			for i := start; i < min(n, start+perTx); i++ {
				at := t0.Add(time.Duration(i) * retentionSpacing)
				actor := rng.IntN(500)
				r := auditRow{
					kind: kindEntry, time: nanos(at), actorIssuer: "https://idp.example",
					actorSubject: fmt.Sprintf("sub-%03d", actor), actorEmail: fmt.Sprintf("admin%03d@corp.example", actor),
					actorName: fmt.Sprintf("Admin %d", actor), logins: "[]", outcome: OutcomeOK,
					requestID: fmt.Sprintf("req-%d", i), clientIP: "192.0.2.1", userAgent: "Mozilla/5.0 (bench)",
				}
				j := rng.IntN(retentionLogins)
				login, domain := retentionLogin(j), retentionDomain(j%retentionDomains)
				var logins []string
				message := ""
				switch p := rng.IntN(100); {
				case p < 40:
					r.action, logins, message = "credential.reset", []string{login}, "Password changed"
				case p < 60:
					r.action, logins, message = "credential.create", []string{login}, "Created"
					if rng.IntN(4) == 0 {
						r.detail = "Asked for as system logins. Passwords generated."
					}
				case p < 70:
					r.action, logins, message = "credential.delete", []string{login}, "Deleted"
					if rng.IntN(500) == 0 {
						r.action, message = "credential.delete_all", "Deleted all"
						logins = logins[:0]
						for k := j % retentionDomains; k < retentionLogins; k += retentionDomains {
							logins = append(logins, retentionLogin(k))
						}
					}
				case p < 85:
					r.action = "auth.sign_in"
					domain = ""
				default:
					r.action = "credentials.export"
				}
				r.domain = domain
				if logins == nil {
					add(&r, nil) // an event: complete as written
					continue
				}
				var err error
				if r.logins, err = encodeLogins(logins); err != nil {
					return err
				}
				r.outcome = OutcomePending
				outcome, status := OutcomeOK, int64(200)
				if rng.IntN(50) == 0 {
					outcome, status, message = OutcomeFailed, 500, "Mailgun answered 500"
				}
				done := nanos(at.Add(1500 * time.Millisecond))
				add(&r, []any{outcome, status, message, done})
				entryID := id
				for _, l := range logins {
					loginArgs = append(loginArgs, entryID, foldLogin(l))
					loginsPending++
				}
				add(&auditRow{kind: kindCompletion, time: done, action: actionComplete, logins: "[]",
					outcome: outcome, upstreamStatus: status, upstreamMessage: message, refID: entryID}, nil)
				if err := flush(t, false); err != nil {
					return err
				}
			}
			return flush(t, true)
		})
		if err != nil {
			tb.Fatalf("bulk insert: %v", err)
		}
	}
	if db.dialect == DialectPostgres {
		if _, err := db.sql.ExecContext(ctx, "ANALYZE"); err != nil {
			tb.Fatal(err)
		}
	}
	return t0.Add(time.Duration(n/2) * retentionSpacing)
}

// retainedRows is how many rows audit_retained holds (-1 before migration 0007).
func retainedRows(db *DB) int64 {
	var n int64
	if err := db.sql.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM audit_retained").Scan(&n); err != nil {
		return -1
	}
	return n
}

// medianOf runs f k times and returns the median time.
func medianOf(b *testing.B, k int, f func() error) time.Duration {
	ds := make([]time.Duration, 0, k)
	for range k {
		s := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(s))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// BenchmarkRetention measures, on a trail of 1,000,000 entries (retentionTrailSize) over
// 20,000 logins on 300 domains, the first retention run that removes half of it (run/: its
// batches, each one transaction holding the audit lock, and on SQLite the write lock), then
// on what is left the integrity check (verify/) and a domain's password ages and system logins
// (lastok/, newestmarked/, each the median of 20 calls; lastok-all/ every domain's, as an export
// of every domain's logins reads them), and the digest of what retention kept (digest/). Run it
// with -benchtime=1x: the trail is built once per dialect, outside the timings, and run/ must
// run once.
func BenchmarkRetention(b *testing.B) {
	n := retentionTrailSize(b)
	for _, dialect := range []struct {
		name string
		open func(testing.TB) testDB
	}{{"sqlite", newSQLite}, {"postgres", newPostgres}} {
		b.Run(dialect.name, func(b *testing.B) {
			db := dialect.open(b)
			start := time.Now()
			cutAt := bulkRetentionTrail(b, db.DB, n)
			b.Logf("%s: bulk insert of %d entries: %v", dialect.name, n, time.Since(start))
			ctx := context.Background()
			ran := false
			b.Run("run", func(b *testing.B) {
				if ran || b.N != 1 {
					b.Fatal("run with -benchtime=1x: the first retention run happens once")
				}
				ran = true
				var cut, deleted int64
				var batches []time.Duration
				b.ResetTimer()
				for {
					if err := db.checkFile(); err != nil {
						b.Fatal(err)
					}
					s := time.Now()
					k, more, err := db.deleteAuditBatch(ctx, nanos(cutAt), &cut)
					batches = append(batches, time.Since(s))
					deleted += k
					if err != nil {
						b.Fatal(err)
					}
					if !more {
						break
					}
				}
				b.StopTimer()
				first := batches[0]
				sorted := slices.Sorted(slices.Values(batches))
				b.ReportMetric(float64(len(batches)), "batches")
				b.ReportMetric(float64(deleted), "entries-removed")
				b.ReportMetric(float64(first.Microseconds())/1000, "first-batch-ms")
				b.ReportMetric(float64(sorted[len(sorted)/2].Microseconds())/1000, "median-batch-ms")
				b.ReportMetric(float64(sorted[len(sorted)*9/10].Microseconds())/1000, "p90-batch-ms")
				b.ReportMetric(float64(sorted[len(sorted)-1].Microseconds())/1000, "max-batch-ms")
				b.ReportMetric(float64(retainedRows(db.DB)), "kept-rows")
				// The batches' times in tenths of the run, to see whether they grow as what is
				// kept does.
				var tenths []string
				for k := range 10 {
					part := batches[k*len(batches)/10 : (k+1)*len(batches)/10]
					var sum time.Duration
					for _, d := range part {
						sum += d
					}
					if len(part) > 0 {
						tenths = append(tenths, fmt.Sprintf("%.0f", float64(sum.Microseconds())/1000/float64(len(part))))
					}
				}
				b.Logf("%s: mean batch ms by tenth of the run: %s", dialect.name, strings.Join(tenths, " "))
			})
			if !ran {
				b.Fatal("run/ did not run: the checks below need the trail retention left")
			}
			if db.dialect == DialectPostgres {
				if _, err := db.sql.ExecContext(ctx, "ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("verify", func(b *testing.B) {
				var rep VerifyReport
				for b.Loop() {
					var err error
					if rep, err = db.VerifyAudit(ctx); err != nil || rep.BrokenAt != 0 {
						b.Fatalf("VerifyAudit = %+v, %v; want intact", rep, err)
					}
				}
				b.ReportMetric(float64(rep.Checked), "rows")
			})
			b.Run("digest", func(b *testing.B) {
				// The digest of the whole of audit_retained, which the integrity check reads (a
				// retention batch reads only its own logins' kept rows, sqlBatchKept).
				for b.Loop() {
					b.ReportMetric(float64(medianOf(b, 5, func() error {
						_, err := retainedDigest(ctx, db.sql, sqlAllKept)
						return err
					}).Microseconds())/1000, "median-ms")
				}
				b.ReportMetric(float64(retainedRows(db.DB)), "kept-rows")
			})
			domain := retentionDomain(42)
			b.Run("lastok", func(b *testing.B) {
				var got map[string]time.Time
				for b.Loop() {
					b.ReportMetric(float64(medianOf(b, 20, func() (err error) {
						got, err = db.LastOK(ctx, domain, "credential.reset")
						return err
					}).Microseconds())/1000, "median-ms")
				}
				b.ReportMetric(float64(len(got)), "logins")
			})
			b.Run("newestmarked", func(b *testing.B) {
				var got map[string]MarkedOK
				for b.Loop() {
					b.ReportMetric(float64(medianOf(b, 20, func() (err error) {
						got, err = db.NewestOKMarked(ctx, domain, "credential.create", "Asked for as system logins.")
						return err
					}).Microseconds())/1000, "median-ms")
				}
				b.ReportMetric(float64(len(got)), "logins")
			})
			b.Run("lastok-all", func(b *testing.B) {
				for b.Loop() {
					for d := range retentionDomains {
						if _, err := db.LastOK(ctx, retentionDomain(d), "credential.reset"); err != nil {
							b.Fatal(err)
						}
						if _, err := db.NewestOKMarked(ctx, retentionDomain(d), "credential.create", "Asked for as system logins."); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		})
	}
}
