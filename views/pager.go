package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// Pagination is a list's footer: "1–100 of 2,431", first/previous/pages/next/last links and a
// page-size select that is a plain GET form (the script submits it on change).
//
// Like the shell (shell.go), it is written by hand: the markup is appended to one pooled buffer,
// the pager's URL builder is called once per distinct page instead of once per link (it is a
// function of the page and the page size), and numbers are appended without building strings.
// TestShellGolden holds the markup to what the templ template it replaced produced.
func Pagination(p Pager) templ.Component {
	return appendComponent(func(b []byte) []byte { return appendPagination(b, &p) })
}

// pagerLinks remembers the links a pager has built during one render.
type pagerLinks struct {
	p    *Pager
	n    int
	page [10]int
	url  [10]string
}

// get returns pagerURL(p, page, p.PerPage), building it only the first time.
func (l *pagerLinks) get(page int) string {
	for i := range l.n {
		if l.page[i] == page {
			return l.url[i]
		}
	}
	u := pagerURL(*l.p, page, l.p.PerPage)
	if l.n < len(l.page) {
		l.page[l.n], l.url[l.n] = page, u
		l.n++
	}
	return u
}

func appendPagination(b []byte, p *Pager) []byte {
	links := pagerLinks{p: p}
	b = append(b, `<nav aria-label="Pagination" class="flex flex-col gap-3 border-t border-gray-200 px-4 py-3 dark:border-gray-800 lg:flex-row lg:items-center lg:justify-between"><p class="text-sm text-gray-700 dark:text-gray-300" data-testid="pager-summary">`...)
	if p.Total == 0 {
		b = append(b, "No results"...)
	} else {
		b = append(b, `<span class="font-semibold">`...)
		b = appendNumber(b, p.From)
		if p.To != p.From { // one row is "101 of 101", not "101–101 of 101"
			b = append(b, "–"...)
			b = appendNumber(b, p.To)
		}
		b = append(b, `</span> of <span class="font-semibold">`...)
		b = appendNumber(b, p.Total)
		b = append(b, `</span>`...)
	}
	b = append(b, `</p><div class="flex flex-wrap items-center justify-between gap-3 sm:justify-start">`...)
	if p.TotalPages > 1 {
		b = append(b, `<ul class="flex items-center gap-1"><li>`...)
		b = appendPagerEdge(b, &links, 1, p.Page > 1, "First page", "chevrons-left", "pager-first", "")
		b = append(b, `</li><li>`...)
		b = appendPagerEdge(b, &links, p.Page-1, p.Page > 1, "Previous page", "chevron-left", "pager-prev", "prev")
		b = append(b, `</li><li class="px-2 text-sm text-gray-700 dark:text-gray-300 sm:hidden">Page `...)
		b = appendNumber(b, p.Page)
		b = append(b, " of "...)
		b = appendNumber(b, p.TotalPages)
		b = append(b, `</li>`...)
		var itemsBuf [9]int
		for _, n := range pageItems(itemsBuf[:0], p.Page, p.TotalPages) {
			b = append(b, `<li class="hidden sm:block">`...)
			switch n {
			case 0:
				b = append(b, `<span class="px-1.5 text-sm text-gray-500 dark:text-gray-400" aria-hidden="true">…</span>`...)
			case p.Page:
				b = append(b, `<a href="`...)
				b = appendURL(b, links.get(n))
				b = append(b, `" aria-current="page" aria-label="Page `...)
				b = strconv.AppendInt(b, int64(n), 10)
				b = append(b, `, current" class="focus-ring inline-flex h-8 min-w-8 items-center justify-center rounded-md bg-indigo-600 px-2 text-sm font-semibold text-white">`...)
				b = appendNumber(b, n)
				b = append(b, `</a>`...)
			default:
				b = append(b, `<a href="`...)
				b = appendURL(b, links.get(n))
				b = append(b, `" aria-label="Page `...)
				b = strconv.AppendInt(b, int64(n), 10)
				b = append(b, `" class="focus-ring inline-flex h-8 min-w-8 items-center justify-center rounded-md px-2 text-sm text-gray-700 hover:bg-gray-100 dark:text-gray-300 dark:hover:bg-gray-800">`...)
				b = appendNumber(b, n)
				b = append(b, `</a>`...)
			}
			b = append(b, `</li>`...)
		}
		b = append(b, `<li>`...)
		b = appendPagerEdge(b, &links, p.Page+1, p.Page < p.TotalPages, "Next page", "chevron-right", "pager-next", "next")
		b = append(b, `</li><li>`...)
		b = appendPagerEdge(b, &links, p.TotalPages, p.Page < p.TotalPages, "Last page", "chevrons-right", "pager-last", "")
		b = append(b, `</li></ul>`...)
	}
	b = appendPageSizeForm(b, &links)
	return append(b, `</div></nav>`...)
}

// appendPagerEdge appends a first/previous/next/last link, or its disabled look. label,
// iconName, testid and rel are constants that need no escaping.
func appendPagerEdge(b []byte, links *pagerLinks, page int, enabled bool, label, iconName, testid, rel string) []byte {
	if !enabled {
		b = append(b, `<span class="inline-flex h-8 w-8 max-sm:h-11 max-sm:w-11 items-center justify-center rounded-md text-gray-400 ring-1 ring-inset ring-gray-200 dark:text-gray-600 dark:ring-gray-800" aria-hidden="true">`...)
		b = appendIcon(b, iconName, "h-4 w-4")
		return append(b, `</span>`...)
	}
	b = append(b, `<a href="`...)
	b = appendURL(b, links.get(page))
	b = append(b, '"')
	if rel != "" {
		b = append(b, ` rel="`...)
		b = append(b, rel...)
		b = append(b, '"')
	}
	b = append(b, ` aria-label="`...)
	b = append(b, label...)
	b = append(b, `" title="`...)
	b = append(b, label...)
	b = append(b, `" class="focus-ring inline-flex h-8 w-8 max-sm:h-11 max-sm:w-11 items-center justify-center rounded-md text-gray-700 ring-1 ring-inset ring-gray-300 hover:bg-gray-100 dark:text-gray-300 dark:ring-gray-700 dark:hover:bg-gray-800" data-testid="`...)
	b = append(b, testid...)
	b = append(b, `">`...)
	b = appendIcon(b, iconName, "h-4 w-4")
	return append(b, `</a>`...)
}

// appendPageSizeForm appends the page-size form: a GET form to the list's URL that keeps the
// list's other query parameters as hidden fields.
func appendPageSizeForm(b []byte, links *pagerLinks) []byte {
	p := links.p
	action, params := formTarget(links.get(1), "page", "per_page")
	b = append(b, `<form method="get" action="`...)
	b = appendURL(b, action)
	b = append(b, `" class="flex items-center gap-2">`...)
	for _, h := range params {
		b = append(b, `<input type="hidden" name="`...)
		b = appendEscaped(b, h.Name)
		b = append(b, `" value="`...)
		b = appendEscaped(b, h.Value)
		b = append(b, `"> `...)
	}
	b = append(b, `<label for="per_page" class="whitespace-nowrap text-sm text-gray-700 dark:text-gray-300">Per page</label> <select id="per_page" name="per_page" class="input w-auto py-1.5 pr-8 max-sm:h-11" data-autosubmit data-testid="page-size">`...)
	for _, n := range pageSizes(*p) {
		b = appendSizeOption(b, n, p.PerPage)
	}
	return append(b, `</select> <button type="submit" class="btn btn-secondary btn-sm" data-autosubmit-hide>Apply</button></form>`...)
}

func appendSizeOption(b []byte, n, perPage int) []byte {
	b = append(b, `<option value="`...)
	b = strconv.AppendInt(b, int64(n), 10)
	if n == perPage {
		b = append(b, `" selected>`...)
	} else {
		b = append(b, `">`...)
	}
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, `</option>`...)
}
