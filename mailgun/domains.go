package mailgun

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DomainListOptions filters and pages ListDomains. Zero values are left out of the query.
type DomainListOptions struct {
	Skip   int    // items to skip, ≥ 0
	Limit  int    // page size, 0..MaxLimit (0 = Mailgun's default of 100)
	Search string // name filter
	State  string // "active", "unverified" or "disabled"
	Sort   string // "name", "name:asc" or "name:desc"
}

// Domain is one sending domain.
type Domain struct {
	ID        string
	Name      string
	State     string    // "active", "unverified", "disabled"
	Type      string    // "custom", "sandbox"
	CreatedAt time.Time // in UTC; zero when Mailgun sent none
}

// DomainList is one page of the account's domains.
type DomainList struct {
	Items []Domain
	// TotalCount is the number of domains matching the filter, not the page length.
	TotalCount int
}

// ListDomains returns one page of the account's domains (GET /v4/domains).
func (c *Client) ListDomains(ctx context.Context, opts *DomainListOptions) (*DomainList, error) {
	var o DomainListOptions
	if opts != nil {
		o = *opts
	}
	q, err := pageQuery(o.Skip, o.Limit)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, value string }{{"search", o.Search}, {"state", o.State}, {"sort", o.Sort}} {
		if strings.ContainsFunc(f.value, isControl) {
			return nil, fmt.Errorf("%w: %s has a control character", ErrInvalidInput, f.name)
		}
		if f.value != "" {
			q.Set(f.name, f.value)
		}
	}
	var (
		wire domainPage
		list *DomainList
	)
	cl := &call{route: routeListDomains, path: "/v4/domains", query: q}
	cl.check = func() (err error) {
		list, err = wire.checked(o.Limit)
		return err
	}
	if err := c.do(ctx, cl, &wire); err != nil {
		return nil, err
	}
	return list, nil
}

// domainPage is a list answer as Mailgun sends it.
type domainPage struct {
	Items []struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		State     string `json:"state"`
		Type      string `json:"type"`
		CreatedAt string `json:"created_at"`
	} `json:"items"`
	TotalCount *int `json:"total_count"`
}

// checked is the page as decoded, refused (ErrBadResponse) when it is not a page of limit
// domains.
func (p *domainPage) checked(limit int) (*DomainList, error) {
	if p.Items == nil || p.TotalCount == nil {
		// A 200 that is not a list page (null, {}, a proxy's message) is not an account
		// without domains.
		return nil, fmt.Errorf("mailgun: %s: %w: no items or total_count", routeListDomains, ErrBadResponse)
	}
	if *p.TotalCount < 0 {
		return nil, fmt.Errorf("mailgun: %s: %w: negative total_count", routeListDomains, ErrBadResponse)
	}
	if err := checkPageLength(routeListDomains, len(p.Items), limit); err != nil {
		return nil, err
	}
	list := &DomainList{Items: make([]Domain, 0, len(p.Items)), TotalCount: *p.TotalCount}
	for i, w := range p.Items {
		if w.Name == "" {
			// A domain without a name would be a picker entry leading nowhere.
			return nil, fmt.Errorf("mailgun: %s: %w: item %d has no name", routeListDomains, ErrBadResponse, i)
		}
		created, err := parseOptionalTime(w.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("mailgun: %s: item %d: created_at: %w", routeListDomains, i, err)
		}
		list.Items = append(list.Items, Domain{ID: w.ID, Name: w.Name, State: w.State, Type: w.Type, CreatedAt: created})
	}
	return list, nil
}
