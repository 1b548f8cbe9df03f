package app

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpdesk/smtpdesk/audit"
	"github.com/smtpdesk/smtpdesk/mailgun/sandbox"
	"github.com/smtpdesk/smtpdesk/metrics"
)

// metricValue returns the value of the series series (its name and labels, as exposed) in a
// scrape's body; the test fails when the body lacks it.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s; it has:\n%s", series, grepLines(body, strings.SplitN(series, "{", 2)[0]))
	return 0
}

func backgroundFailures(job metrics.Task) string {
	return `smtpdesk_background_failures_total{task="` + string(job) + `"}`
}

// TestMetricsCountBackgroundFailures: the janitor's deletions (expired sessions, used form
// tokens) and the audit retention's, which the database refuses (here their tables are gone),
// were only logged; /metrics now counts each failed run by job, every job from 0, so an operator
// can alert on them. A run that works, or that SMTP Desk's stop ended, counts nothing.
func TestMetricsCountBackgroundFailures(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d := startDemo(t, DemoOptions{MetricsToken: token})
	<-d.App.PolicyDomainsChecked()
	ctx := context.Background()
	body := scrapeMetrics(t, d, token)
	for _, j := range metrics.Tasks {
		if v := metricValue(t, body, backgroundFailures(j)); v != 0 {
			t.Errorf("%s = %v before any failure, want 0", backgroundFailures(j), v)
		}
	}
	db, err := sql.Open("sqlite", filepath.Join(d.DataDir, "smtpdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	retain := func(ctx context.Context) error {
		// What audit.RunRetention does every hour, with the retainer New gives it.
		_, err := audit.RetainOnce(ctx, d.App.retainer(), time.Nanosecond, time.Now, d.App.audit)
		return err
	}
	jobs := []metrics.Task{metrics.TaskSessionsCleanup, metrics.TaskFormTokensCleanup, metrics.TaskAuditRetention}
	// The janitor's first sweep runs at start, in the background: it may come before or after
	// the tables go, so the counts are compared with what they were, not with 1.
	before := map[metrics.Task]float64{}
	for _, j := range jobs {
		before[j] = metricValue(t, scrapeMetrics(t, d, token), backgroundFailures(j))
	}

	for _, table := range []string{"sessions", "used_forms", "audit_log"} {
		exec(t, db, `ALTER TABLE `+table+` RENAME TO `+table+`_gone`)
	}
	d.App.sweep(ctx)
	if err := retain(ctx); err == nil {
		t.Fatal("retention succeeded without its table")
	}
	body = scrapeMetrics(t, d, token)
	failed := map[metrics.Task]float64{}
	for _, j := range jobs {
		failed[j] = metricValue(t, body, backgroundFailures(j))
		if failed[j] <= before[j] {
			t.Errorf("after a failed run %s = %v, was %v; want it counted", backgroundFailures(j), failed[j], before[j])
		}
	}
	// A run that the stop ended is not a failure.
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	d.App.sweep(stopped)
	_ = retain(stopped)

	for _, table := range []string{"sessions", "used_forms", "audit_log"} {
		exec(t, db, `ALTER TABLE `+table+`_gone RENAME TO `+table)
	}
	d.App.sweep(ctx)
	if err := retain(ctx); err != nil {
		t.Fatalf("retention with its table back: %v", err)
	}
	body = scrapeMetrics(t, d, token)
	for _, j := range jobs {
		if v := metricValue(t, body, backgroundFailures(j)); v != failed[j] {
			t.Errorf("after a stopped run and a run that worked %s = %v, want it still %v", backgroundFailures(j), v, failed[j])
		}
	}
}

// TestMetricsShowFailedPolicyReload: a reload (SIGHUP) of a policy file made invalid keeps the
// previous policy in force and only logged it, so an operator who edited the file believed the
// edit applied. /metrics says it: smtpdesk_policy_last_reload_successful is 0 until a reload
// takes, the failure is counted, and the time of the last load that took does not move.
func TestMetricsShowFailedPolicyReload(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d := startDemo(t, DemoOptions{MetricsToken: token})
	const ok, at = "smtpdesk_policy_last_reload_successful", "smtpdesk_policy_last_reload_success_timestamp_seconds"
	reloads := backgroundFailures(metrics.TaskPolicyReload)
	body := scrapeMetrics(t, d, token)
	started := metricValue(t, body, at)
	if v := metricValue(t, body, ok); v != 1 || started <= 0 || metricValue(t, body, reloads) != 0 {
		t.Fatalf("at start %s = %v, %s = %v, %s = %v; want 1, the start's time, 0", ok, v, at, started, reloads, metricValue(t, body, reloads))
	}

	file := filepath.Join(d.DataDir, "policy.yaml")
	if err := os.WriteFile(file, []byte("rules:\n  - domain: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.App.ReloadPolicy(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	body = scrapeMetrics(t, d, token)
	if v := metricValue(t, body, ok); v != 0 {
		t.Errorf("after a failed reload %s = %v, want 0", ok, v)
	}
	if v := metricValue(t, body, reloads); v != 1 {
		t.Errorf("after a failed reload %s = %v, want 1", reloads, v)
	}
	if v := metricValue(t, body, at); v != started {
		t.Errorf("a failed reload moved %s from %v to %v", at, started, v)
	}

	if err := os.WriteFile(file, []byte("admins:\n  emails: [someone@example.com]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	body = scrapeMetrics(t, d, token)
	if v := metricValue(t, body, ok); v != 1 {
		t.Errorf("after a reload that took %s = %v, want 1", ok, v)
	}
	if v := metricValue(t, body, reloads); v != 1 {
		t.Errorf("a reload that took moved %s to %v, want it still 1", reloads, v)
	}
	if v := metricValue(t, body, at); v <= started {
		t.Errorf("a reload that took left %s at %v (start: %v)", at, v, started)
	}
}

// TestMetricsCountPolicyDomainsCheckFailures: when Mailgun cannot be asked for its domains, the
// comparison of the policy's domains with them (at start and after each reload) is not made, and
// a typo in the policy goes unwarned; /metrics counts it. The comparison at start, which worked,
// counted nothing.
func TestMetricsCountPolicyDomainsCheckFailures(t *testing.T) {
	const token = "metrics-t0ken-for-tests"
	d := startDemo(t, DemoOptions{MetricsToken: token})
	<-d.App.PolicyDomainsChecked()
	checks := backgroundFailures(metrics.TaskPolicyDomainsCheck)
	if v := metricValue(t, scrapeMetrics(t, d, token), checks); v != 0 {
		t.Fatalf("after the start's comparison, which worked, %s = %v, want 0", checks, v)
	}
	d.Sandbox.SetFaults(sandbox.Faults{Routes: []string{sandbox.RouteDomains}, Rate: 1, Malformed: true})
	if err := os.WriteFile(filepath.Join(d.DataDir, "policy.yaml"), []byte("admins:\n  groups: [smtp-admins]\nrules:\n  - domain: acme.example\n    role: operator\n    groups: [team-acme]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.App.ReloadPolicy(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	// The comparison after a reload runs in the background, with nothing to wait on but its count.
	waitForMetric(t, d, token, checks+" 1", "smtpdesk_background_failures_total")
}
