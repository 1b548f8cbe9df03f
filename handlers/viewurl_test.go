package handlers

import (
	"net/url"
	"strconv"
	"testing"
)

// TestViewURLEncodesAsURLValues: the list's way back is appended by hand on every list view; it
// must be the address url.Values would encode for the same view, or listView, which reads it
// back from the delete dialog's form, would see another view.
func TestViewURLEncodesAsURLValues(t *testing.T) {
	tests := []struct {
		p          Paging
		perPageSet bool
		filter     string
		rotate     bool
	}{
		{Paging{Page: 1, PerPage: 25}, false, "", false},
		{Paging{Page: 2, PerPage: 25}, false, "", false},
		{Paging{Page: 1, PerPage: 100}, true, "", false},
		{Paging{Page: 7, PerPage: 50}, true, "a b&c=d+e/é#?%", true},
		{Paging{Page: 1, PerPage: 25}, false, "user1", true},
	}
	for _, tt := range tests {
		v := url.Values{}
		if tt.p.Page > 1 {
			v.Set("page", strconv.Itoa(tt.p.Page))
		}
		if tt.perPageSet {
			v.Set("per_page", strconv.Itoa(tt.p.PerPage))
		}
		if tt.filter != "" {
			v.Set("q", tt.filter)
		}
		if tt.rotate {
			v.Set("rotate", "1")
		}
		want := domainURL("exa mple.com")
		if len(v) > 0 {
			want += "?" + v.Encode()
		}
		got := viewURL("exa mple.com", tt.p, tt.perPageSet, tt.filter, tt.rotate)
		if got != want {
			t.Errorf("viewURL(%+v, %v, %q, %v) = %q, want %q", tt.p, tt.perPageSet, tt.filter, tt.rotate, got, want)
		}
		if back := listView(got, "", "exa mple.com"); back != got {
			t.Errorf("listView(%q) = %q, want it unchanged", got, back)
		}
	}
}
