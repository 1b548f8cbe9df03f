package app

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// alertRules is docs/prometheus-alerts.yml: Prometheus's rule file format, alerting rules only.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var (
	// promString is a quoted string in PromQL, cut before looking for names: a regexp such as
	// ".*/export\\..*" holds neither a metric's nor a label's name.
	promString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	// promSelector is a selector of an SMTP Desk series, with its label matchers if any.
	promSelector = regexp.MustCompile(`\b(smtpdesk_\w+)\s*(?:\{([^}]*)\})?`)
	promMatcher  = regexp.MustCompile(`(\w+)\s*(?:=~|!~|!=|=)`)
	promGrouping = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	// scrapeType and scrapeSample read the text format: a family's type, a sample's labels.
	scrapeType   = regexp.MustCompile(`(?m)^# TYPE (\w+) (\w+)$`)
	scrapeSample = regexp.MustCompile(`(?m)^(\w+)\{([^}]*)\}`)
	scrapeLabel  = regexp.MustCompile(`(\w+)="`)
)

// TestAlertRulesUseExposedSeries: every rule of docs/prometheus-alerts.yml has what Alertmanager
// and the operator need (a name, an expression, a for, a severity, a summary and a description),
// and every smtpdesk_ series its expressions name, with every label they match or group by, is
// exposed by a running demo's /metrics (a histogram's _bucket, _count and _sum count as the
// histogram; le, job and instance are Prometheus's). So the rules cannot drift from the code: a
// series renamed, or a label, fails here rather than leaving an alert that never fires. A
// family is exposed only once it has a sample: a rule on one that signing in and listing a
// domain do not produce needs this test to produce it.
func TestAlertRulesUseExposedSeries(t *testing.T) {
	raw, err := os.ReadFile("../docs/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelled key ("anotations") would be dropped by Prometheus's loader too
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("docs/prometheus-alerts.yml: %v", err)
	}

	const token = "metrics-t0ken-for-tests"
	d, c := signedInDemo(t, DemoOptions{MetricsToken: token}, "admin")
	if p, err := c.Get(context.Background(), "/d/example.com"); err != nil || p.Status != http.StatusOK {
		t.Fatalf("domain page: %v %v", p, err)
	}
	<-d.App.PolicyDomainsChecked()
	body := scrapeMetrics(t, d, token)
	types := map[string]string{} // family → counter, gauge, histogram…
	for _, m := range scrapeType.FindAllStringSubmatch(body, -1) {
		types[m[1]] = m[2]
	}
	labels := map[string]map[string]bool{} // family → the labels its samples carry
	for _, m := range scrapeSample.FindAllStringSubmatch(body, -1) {
		family := m[1]
		if _, ok := types[family]; !ok {
			family = histogramOf(family, types)
		}
		if labels[family] == nil {
			labels[family] = map[string]bool{}
		}
		for _, l := range scrapeLabel.FindAllStringSubmatch(m[2], -1) {
			labels[family][l[1]] = true
		}
	}

	var n int
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		if len(g.Rules) == 0 {
			t.Errorf("group %q has no rules", g.Name)
		}
		for i, r := range g.Rules {
			n++
			name := r.Alert
			if name == "" {
				name = g.Name + " rule " + strconv.Itoa(i+1)
				t.Errorf("%s: no alert name", name)
			}
			if seen[name] {
				t.Errorf("%s: named twice", name)
			}
			seen[name] = true
			for what, v := range map[string]string{"expr": r.Expr, "for": r.For,
				"labels.severity": r.Labels["severity"], "annotations.summary": r.Annotations["summary"],
				"annotations.description": r.Annotations["description"]} {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s: no %s", name, what)
				}
			}
			if s := r.Labels["severity"]; s != "" && !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", name, s)
			}

			expr := promString.ReplaceAllString(r.Expr, `""`)
			allowed := map[string]bool{"job": true, "instance": true} // the target's labels
			for _, m := range promSelector.FindAllStringSubmatch(expr, -1) {
				family := m[1]
				if _, ok := types[family]; !ok {
					family = histogramOf(family, types)
				}
				if _, ok := types[family]; !ok {
					t.Errorf("%s: %s is not exposed by /metrics (misspelt, or renamed in metrics/metrics.go?)", name, m[1])
					continue
				}
				if family != m[1] {
					allowed["le"] = true
				}
				own := labels[family]
				for l := range own {
					allowed[l] = true
				}
				for _, l := range promMatcher.FindAllStringSubmatch(m[2], -1) {
					switch {
					case l[1] == "le" && family != m[1], own[l[1]]:
					case l[1] == "job" || l[1] == "instance":
					default:
						t.Errorf("%s: %s has no label %q", name, m[1], l[1])
					}
				}
			}
			for _, m := range promGrouping.FindAllStringSubmatch(expr, -1) {
				for l := range strings.SplitSeq(m[1], ",") {
					if l = strings.TrimSpace(l); l != "" && !allowed[l] {
						t.Errorf("%s: groups by %q, which none of its series has", name, l)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Error("docs/prometheus-alerts.yml holds no rules")
	}
}

// histogramOf is the histogram (or summary) family that a _bucket, _count or _sum series
// belongs to, or name itself.
func histogramOf(name string, types map[string]string) string {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && (types[base] == "histogram" || types[base] == "summary" && suffix != "_bucket") {
			return base
		}
	}
	return name
}
