package policy

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEPolicyExample: the README's policy example is the administrator's starting point,
// so it must parse, and grant what its comments say, self-service included.
func TestREADMEPolicyExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("README: %v", err)
	}
	_, after, ok := strings.Cut(string(b), "**Policy.**")
	if !ok {
		t.Fatal("README has no **Policy.** paragraph")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	if ok {
		block, _, ok = strings.Cut(block, "```")
	}
	if !ok || strings.Index(after, "```yaml") > strings.Index(after, "**Identity provider.**") {
		t.Fatal("README's Policy paragraph has no ```yaml example")
	}
	p, err := Parse([]byte(block), "README.md")
	if err != nil {
		t.Fatalf("README's policy example: %v", err)
	}
	if w := p.Warnings(); len(w) > 0 {
		t.Errorf("README's policy example has warnings: %q", w)
	}
	const d = "mg.corp.example"
	dev := Subject{Email: "dev@mg.corp.example", EmailVerified: true, Groups: []string{"developers"}}
	for _, c := range []struct {
		name string
		got  bool
	}{
		{"admins", p.IsAdmin(Subject{Groups: []string{"smtp-admins"}})},
		{"mail-team operates", p.Can(Subject{Groups: []string{"mail-team"}}, d, ActReset)},
		{"developers view", p.Can(dev, d, ActView) && !p.Can(dev, d, ActReset)},
		{"a developer resets their own login", p.CanSelfReset(dev, d, "Dev@mg.corp.example")},
		{"and no other", !p.CanSelfReset(dev, d, "ops@mg.corp.example")},
		{"security views every domain", p.Can(Subject{Email: "security@corp.example", EmailVerified: true}, "other.example", ActView)},
	} {
		if !c.got {
			t.Errorf("README's policy example: %s: not so", c.name)
		}
	}
}
