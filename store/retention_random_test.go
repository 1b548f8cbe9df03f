package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A review's randomized check of retention's kept rows and the anchor's digest.

type modelEntry struct {
	id       int64
	at       time.Time
	action   string
	domain   string
	logins   []string // folded
	detail   string
	outcome  string // final outcome; "" while pending
	message  string
	complete time.Time
}

const modelSys = "Asked for as system logins."

func modelMarked(e *modelEntry) bool {
	return e.detail == modelSys || strings.HasPrefix(e.detail, modelSys+" ") || (e.detail == "" && strings.HasPrefix(e.message, modelSys))
}

// modelExpect computes what LastOK and NewestOKMarked should answer for domain, given the entries
// and the first id still in the trail (removed: id < first).
func modelExpect(es []*modelEntry, first int64, domain string) (map[string]time.Time, map[string]MarkedOK) {
	type key struct{ action, login string }
	newestRemoved := map[key]*modelEntry{}
	resetMaxRemoved := map[string]time.Time{}
	lastDelete := map[string]int64{}
	trailReset := map[string]time.Time{}
	trailCreate := map[string]*modelEntry{}
	for _, e := range es {
		if e.domain != domain || e.outcome != OutcomeOK {
			continue
		}
		for _, l := range e.logins {
			if e.id < first {
				switch e.action {
				case "credential.reset", "credential.create":
					newestRemoved[key{e.action, l}] = e
					if e.action == "credential.reset" {
						if e.at.After(resetMaxRemoved[l]) {
							resetMaxRemoved[l] = e.at
						}
					}
				case "credential.delete", "credential.delete_all":
					lastDelete[l] = e.id
				}
			} else {
				switch e.action {
				case "credential.reset":
					if e.at.After(trailReset[l]) {
						trailReset[l] = e.at
					}
				case "credential.create":
					trailCreate[l] = e
				}
			}
		}
	}
	resets := map[string]time.Time{}
	for l, at := range trailReset {
		resets[l] = at
	}
	marked := map[string]MarkedOK{}
	for k, e := range newestRemoved {
		if lastDelete[k.login] > e.id {
			continue // forgotten
		}
		switch k.action {
		case "credential.reset":
			if at := e.at; at.After(resets[k.login]) {
				resets[k.login] = at
			}
		case "credential.create":
			if trailCreate[k.login] == nil && modelMarked(e) {
				marked[k.login] = MarkedOK{At: e.at, Completed: e.complete}
			}
		}
	}
	for l, e := range trailCreate {
		if modelMarked(e) {
			marked[l] = MarkedOK{At: e.at, Completed: e.complete}
		}
	}
	return resets, marked
}

func TestRetentionAtRandomCuts(t *testing.T) {
	// A fixed seed, so that a run is the same on every machine; SMTPDESK_RETENTION_SEED (and
	// _ROUNDS, _PER) for others.
	seed := int64(1)
	if s := os.Getenv("SMTPDESK_RETENTION_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rounds, per := 6, 250
	if s := os.Getenv("SMTPDESK_RETENTION_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("SMTPDESK_RETENTION_PER"); s != "" {
		per, _ = strconv.Atoi(s)
	}
	forEachDialect(t, func(t *testing.T, db testDB) {
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewSource(seed))
		ctx := context.Background()
		domains := []string{"example.com", "acme.example"}
		entryDomains := []string{"example.com", "acme.example", "Example.com", ""}
		logins := []string{"a", "B", "c", "Ömer", "d", "E", "f", "Ça"}
		details := []string{modelSys, modelSys + " Passwords chosen by Mailgun.", "", "other"}
		messages := []string{"", modelSys + " (legacy)", "done"}
		actions := []string{"credential.reset", "credential.reset", "credential.create", "credential.create",
			"credential.delete", "credential.delete_all", "auth.sign_in", "credentials.export"}
		outcomes := []string{OutcomeOK, OutcomeOK, OutcomeOK, OutcomeOK, OutcomeFailed, OutcomeUnknown}
		var es []*modelEntry
		var pending []*modelEntry
		minute := 0
		at := func() time.Time { minute++; return t0.Add(time.Duration(minute) * time.Minute) }
		complete := func(e *modelEntry) {
			e.outcome = outcomes[rng.Intn(len(outcomes))]
			e.message = messages[rng.Intn(len(messages))]
			e.complete = at()
			mustComplete(t, db, e.id, e.outcome, 200, e.message, e.complete)
		}
		cutMinute := 0
		for round := 0; round < rounds; round++ {
			for i := 0; i < per; i++ {
				action := actions[rng.Intn(len(actions))]
				domain := entryDomains[rng.Intn(len(entryDomains))]
				n := 1
				if action == "credential.delete_all" || action == "credential.create" {
					n = rng.Intn(6)
				}
				if action == "auth.sign_in" {
					n, domain = 0, ""
				}
				var ls, folded []string
				seen := map[string]bool{}
				for j := 0; j < n; j++ {
					l := logins[rng.Intn(len(logins))] + "@" + domain
					if rng.Intn(2) == 0 {
						l = strings.ToUpper(l)
					}
					ls = append(ls, l)
					if f := strings.ToLower(l); !seen[f] {
						seen[f] = true
						folded = append(folded, f)
					}
				}
				e := &modelEntry{at: at(), action: action, domain: domain, logins: folded, detail: details[rng.Intn(len(details))]}
				ae := entry(e.at, "alice@corp.example", action, domain, OutcomePending, ls...)
				ae.Detail = e.detail
				e.id = mustAppend(t, db, ae)
				es = append(es, e)
				switch r := rng.Intn(10); {
				case r < 6:
					complete(e)
				case r < 9:
					pending = append(pending, e)
				} // else: stays pending for good
				if len(pending) > 0 && rng.Intn(3) == 0 {
					k := rng.Intn(len(pending))
					complete(pending[k])
					pending = append(pending[:k], pending[k+1:]...)
				}
			}
			// Retention at a few random cut points up to now.
			for k := 0; k < 4; k++ {
				cutMinute += rng.Intn(minute-cutMinute+1) / 2
				if round == rounds-1 && k == 3 {
					cutMinute = minute + 1
				}
				stop := make(chan struct{})
				verr := make(chan string, 1)
				go func() {
					defer close(verr)
					for {
						select {
						case <-stop:
							return
						default:
						}
						rep, err := db.VerifyAudit(ctx)
						if err != nil {
							verr <- err.Error()
							return
						}
						if rep.BrokenAt != 0 {
							verr <- fmt.Sprintf("%+v", rep)
							return
						}
					}
				}()
				_, err := db.DeleteAuditBefore(ctx, t0.Add(time.Duration(cutMinute)*time.Minute))
				close(stop)
				if m, ok := <-verr; ok {
					t.Fatalf("round %d cut at minute %d: VerifyAudit during retention: %s", round, cutMinute, m)
				}
				if err != nil {
					t.Fatal(err)
				}
				if rep := mustVerify(t, db); rep.BrokenAt != 0 {
					t.Fatalf("round %d cut at minute %d: VerifyAudit = %+v", round, cutMinute, rep)
				}
				var first sql.NullInt64
				if err := db.sql.QueryRowContext(ctx, "SELECT MIN(id) FROM audit_log").Scan(&first); err != nil {
					t.Fatal(err)
				}
				f := first.Int64
				if !first.Valid {
					f = es[len(es)-1].id + 1<<20
				}
				for _, d := range domains {
					wantR, wantM := modelExpect(es, f, d)
					gotR, err := db.LastOK(ctx, d, "credential.reset")
					if err != nil {
						t.Fatal(err)
					}
					gotM, err := db.NewestOKMarked(ctx, d, "credential.create", modelSys)
					if err != nil {
						t.Fatal(err)
					}
					if a, b := fmt.Sprint(gotR), fmt.Sprint(wantR); a != b {
						t.Errorf("round %d cut %d (first id %d) %s: LastOK = %s, want %s", round, cutMinute, f, d, a, b)
					}
					if a, b := fmt.Sprint(gotM), fmt.Sprint(wantM); a != b {
						t.Errorf("round %d cut %d (first id %d) %s: NewestOKMarked = %s, want %s", round, cutMinute, f, d, a, b)
					}
				}
				if t.Failed() {
					t.FailNow()
				}
			}
		}
	})
}
