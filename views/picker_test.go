package views

import (
	"fmt"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestPickerListsAFewDomains: every page carries the domain picker, so an account of many
// domains lists PickerLimit of them and the current one, and its last link names how many
// there are, on the home page; a few domains are all listed.
func TestPickerListsAFewDomains(t *testing.T) {
	p := samplePage("d027.example", "")
	p.Domains = nil
	for i := range 30 {
		d := fmt.Sprintf("d%03d.example", i)
		p.Domains = append(p.Domains, NavItem{Label: d, URL: "/d/" + d, Note: "viewer"})
	}
	p.CurrentDomain = "d027.example"
	doc, _ := render(t, Home(HomeVM{Page: p}))
	var listed []string
	doc.Find(`[data-testid="domain-picker-item"]`).Each(func(_ int, s *goquery.Selection) {
		listed = append(listed, strings.TrimSpace(s.Find("span").First().Text()))
	})
	if len(listed) != PickerLimit+1 || listed[0] != "d000.example" || listed[PickerLimit-1] != "d019.example" || listed[PickerLimit] != "d027.example" {
		t.Errorf("picker lists %q, want d000–d019 and the current d027", listed)
	}
	if got, want := strings.TrimSpace(doc.Find(`[data-testid="picker-all"]`).Text()), "All 30 domains"; got != want {
		t.Errorf("picker's last link = %q, want %q", got, want)
	}

	doc, _ = render(t, Home(HomeVM{Page: samplePage("Domains", "")}))
	if got := doc.Find(`[data-testid="domain-picker-item"]`).Length(); got != 4 {
		t.Errorf("picker of 4 domains lists %d", got)
	}
	if got, want := strings.TrimSpace(doc.Find(`[data-testid="picker-all"]`).Text()), "All domains"; got != want {
		t.Errorf("picker's last link = %q, want %q", got, want)
	}
}
