package views

import (
	"context"
	"io"
	"sync"

	"github.com/a-h/templ"
)

// The shell of every page (head, demo banner, top bar with the domain picker and the user menu,
// breadcrumbs, flashes, heading and footer) is drawn on every request, so it is written by hand
// instead of by templ, like the credential rows (rows.go): its markup is appended to one pooled
// buffer and written out around the page's own content, without templ's per-element buffers,
// attribute resolution and class processing. Dynamic values go through appendEscaped (exactly
// templ.EscapeString) and URLs through templ.URL's sanitizer first, as templ does for href. The
// markup is byte for byte what the templ templates it replaced produced: TestShellGolden holds
// it to testdata/shell_*.txt, rendered by those templates.

// pageBufs recycles the buffers the shell and the pager build their markup in.
var pageBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getPageBuf() *[]byte { return pageBufs.Get().(*[]byte) }

func putPageBuf(b *[]byte) {
	if cap(*b) > 256<<10 {
		return // an unusually large page; let it go rather than keep it pooled
	}
	*b = (*b)[:0]
	pageBufs.Put(b)
}

// appendFunc appends a part of a page.
type appendFunc func(b []byte) []byte

// appendComponent renders what f appends as a component.
func appendComponent(f appendFunc) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		bp := getPageBuf()
		defer putPageBuf(bp)
		*bp = f((*bp)[:0])
		_, err := w.Write(*bp)
		return err
	})
}

// appendURL appends a URL attribute value as templ writes href={ u }: sanitized by templ.URL,
// then escaped.
func appendURL(b []byte, u string) []byte {
	return appendEscaped(b, string(templ.URL(u)))
}

// Assets are the URLs of the page frame's icon, stylesheet and script. The server's are
// content-hashed by package static, which views does not import (docs/ARCHITECTURE.md: views
// depends on templ and the standard library only): the handlers build them once and put them in
// Page.
type Assets struct {
	head string // the document's head from the icon link up to the script's src attribute
}

// NewAssets returns the frame's assets, each URL given by url ("app.css" →
// "/static/app.3f2a9c1b.css"). Build it once and share it: it renders that part of the head.
func NewAssets(url func(name string) string) *Assets {
	b := []byte(`<link rel="icon" type="image/svg+xml" href="`)
	b = appendURL(b, url("favicon.svg"))
	b = append(b, `"><link rel="stylesheet" href="`...)
	b = appendURL(b, url("app.css"))
	b = append(b, `"><script defer src="`...)
	b = appendURL(b, url("app.js"))
	return &Assets{head: string(append(b, '"'))}
}

// plainAssets serve a Page that names no Assets: the files' plain names under /static/.
var plainAssets = sync.OnceValue(func() *Assets {
	return NewAssets(func(name string) string { return "/static/" + name })
})

// shell is the frame of a full page around its children (the content column); o.Aside is
// shown beside the heading.
func shell(p Page, o shellOpts) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ctx = templ.InitializeContext(ctx)
		children := templ.GetChildren(ctx)
		ctx = templ.ClearChildren(ctx)

		bp := getPageBuf()
		defer putPageBuf(bp)
		b := appendShellTop(*bp, &p)
		heading := o.Heading && p.Title != ""
		if heading {
			b = appendHeadingStart(b, &p)
			if o.Aside != nil {
				b = append(b, `<div class="flex shrink-0 flex-wrap items-center gap-2">`...)
				if _, err := w.Write(b); err != nil {
					return err
				}
				b = b[:0]
				if err := o.Aside.Render(ctx, w); err != nil {
					return err
				}
				b = append(b, `</div>`...)
			}
			b = append(b, `</div>`...)
		}
		*bp = b
		if _, err := w.Write(b); err != nil {
			return err
		}
		if err := children.Render(ctx, w); err != nil {
			return err
		}
		b = appendShellBottom(b[:0], &p, o)
		*bp = b
		_, err := w.Write(b)
		return err
	})
}

// appendShellTop appends the page from the doctype to the flashes.
func appendShellTop(b []byte, p *Page) []byte {
	b = append(b, `<!doctype html><html lang="en" class="h-full"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark"><meta name="referrer" content="same-origin"><title>`...)
	if t := docTitle(p); t == "" {
		b = append(b, "SMTP Desk"...)
	} else {
		b = appendEscaped(b, t)
		b = append(b, " · SMTP Desk"...)
	}
	b = append(b, `</title>`...)
	a := p.Assets
	if a == nil {
		a = plainAssets()
	}
	b = append(b, a.head...)
	if p.Nonce != "" {
		b = append(b, ` nonce="`...)
		b = appendEscaped(b, p.Nonce)
		b = append(b, '"')
	}
	b = append(b, `></script></head><body class="flex min-h-full flex-col font-sans"`...)
	if p.PostAnswer {
		b = append(b, ` data-post-answer`...)
		if p.AnswerURL != "" {
			b = append(b, `="`...)
			b = appendEscaped(b, p.AnswerURL)
			b = append(b, '"')
		}
	}
	b = append(b, `><a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-4 focus:top-3 focus:z-50 focus:rounded-md focus:bg-indigo-600 focus:px-3 focus:py-2 focus:text-sm focus:font-semibold focus:text-white focus:outline-none focus:ring-2 focus:ring-white">Skip to content</a> `...)
	if p.Demo {
		// A landmark of its own (a named section is a region): outside every landmark, the notice
		// is skipped by a screen reader user who moves from landmark to landmark (axe's region).
		b = append(b, `<section aria-label="Demo mode" class="bg-amber-100 text-amber-950 dark:bg-amber-900/60 dark:text-amber-100" data-testid="demo-banner"><p class="mx-auto flex max-w-6xl items-center gap-2 px-4 py-1.5 text-xs font-medium sm:px-6 lg:px-8">`...)
		b = appendIcon(b, "info", "h-4 w-4 shrink-0")
		b = append(b, `<span><strong class="font-semibold">Demo mode:</strong> Mailgun and sign-in are simulated on this machine.<span class="hidden sm:inline"> Nothing here reaches a real mail provider.</span></span></p></section>`...)
	}
	b = appendTopBar(b, p)
	b = append(b, `<div id="js-live" class="sr-only" aria-live="polite"></div><main id="main" tabindex="-1" class="flex-1 focus:outline-none"><div class="mx-auto w-full max-w-6xl px-4 pb-12 pt-5 sm:px-6 lg:px-8">`...)
	b = appendBreadcrumbs(b, p.Breadcrumbs)
	return appendFlashes(b, p.Flashes)
}

// appendHeadingStart appends the page heading (title and subtitle) up to where its aside goes.
func appendHeadingStart(b []byte, p *Page) []byte {
	b = append(b, `<div class="mb-6 flex flex-col gap-3 sm:flex-row sm:items-end sm:justify-between"><div class="min-w-0"><h1 class="break-words text-2xl font-semibold tracking-tight text-gray-900 dark:text-white" data-testid="page-title">`...)
	b = appendEscaped(b, p.Title)
	b = append(b, `</h1>`...)
	if p.Subtitle != "" {
		b = append(b, `<p class="mt-1 text-sm text-gray-600 [overflow-wrap:anywhere] dark:text-gray-400" data-testid="page-subtitle">`...)
		b = appendEscaped(b, p.Subtitle)
		b = append(b, `</p>`...)
	}
	return append(b, `</div>`...)
}

// appendShellBottom appends the page from the end of the content column to the end.
func appendShellBottom(b []byte, p *Page, o shellOpts) []byte {
	b = append(b, `</div></main><footer class="border-t border-gray-200 dark:border-gray-800"><div class="mx-auto flex max-w-6xl flex-wrap items-center justify-between gap-x-6 gap-y-1 px-4 py-4 text-xs text-gray-600 dark:text-gray-400 sm:px-6 lg:px-8"><p>SMTP Desk · self-service SMTP logins for Mailgun</p>`...)
	if p.RequestID != "" && !o.ErrorPage {
		b = append(b, `<p>Request ID <code class="font-mono text-gray-700 dark:text-gray-300" data-testid="request-id">`...)
		b = appendEscaped(b, p.RequestID)
		b = append(b, `</code></p>`...)
	}
	return append(b, `</div></footer></body></html>`...)
}

// navLinkBase, navLinkActive and navLinkIdle are the classes of a main navigation link. The
// current one is told apart by its fill, which forced colours (Windows high contrast) drop: there
// it has a border in the highlight colour.
const (
	navLinkBase   = "focus-ring inline-flex items-center gap-1.5 rounded-md px-2.5 py-1.5 max-sm:py-3 text-sm font-medium "
	navLinkActive = navLinkBase + "bg-gray-100 text-gray-900 dark:bg-gray-800 dark:text-white forced-colors:border forced-colors:border-[color:Highlight]"
	navLinkIdle   = navLinkBase + "text-gray-700 hover:bg-gray-100 hover:text-gray-900 dark:text-gray-300 dark:hover:bg-gray-800 dark:hover:text-white"
)

// appendTopBar appends the header: the logo, the main navigation and the user menu.
func appendTopBar(b []byte, p *Page) []byte {
	b = append(b, `<header class="border-b border-gray-200 bg-white dark:border-gray-800 dark:bg-gray-900"><div class="mx-auto flex max-w-6xl flex-wrap items-center gap-x-2 gap-y-1 px-4 py-2 sm:flex-nowrap sm:px-6 lg:px-8"><a href="/" class="focus-ring -ml-1 mr-2 flex items-center gap-2 rounded-md px-1 py-1 max-sm:py-2 text-base font-semibold tracking-tight text-gray-900 dark:text-white">`...)
	b = append(b, *logoMarkup()...)
	b = append(b, `<span>SMTP Desk</span></a> `...)
	if p.User != nil && (len(p.Domains) > 0 || p.User.IsAdmin || p.Nav != "") {
		b = append(b, `<nav aria-label="Main" class="order-last -mx-1 flex w-full min-w-0 items-center gap-1 border-t border-gray-100 pt-1 dark:border-gray-800 sm:order-none sm:mx-0 sm:w-auto sm:border-0 sm:pt-0">`...)
		b = appendDomainPicker(b, p)
		if p.Nav == "audit" {
			b = append(b, `<a href="/audit" class="`+navLinkActive+`" aria-current="page" data-testid="nav-audit">`...)
		} else {
			b = append(b, `<a href="/audit" class="`+navLinkIdle+`" data-testid="nav-audit">`...)
		}
		b = appendIcon(b, "list", "h-4 w-4")
		b = append(b, ` Audit</a></nav>`...)
	}
	if p.User != nil {
		b = append(b, `<div class="ml-auto">`...)
		b = appendUserMenu(b, p)
		b = append(b, `</div>`...)
	}
	return append(b, `</div></header>`...)
}

// appendDomainPicker appends the menu of the user's domains.
func appendDomainPicker(b []byte, p *Page) []byte {
	// The width cap is the menu's, not its button's: the menu (min-w-0) shrinks where the bar is
	// short of room (320 pixels, a laptop zoomed to 400%) and the button, as wide as the menu at
	// most, cuts the name with an ellipsis there. Capped itself, the button kept its width and ran
	// under the Audit link beside it.
	// Highlighted on the domain pages only: the audit trail filtered by a domain names it here
	// too, but its own link is then the current one, and two highlighted items read as two
	// places at once.
	if p.Nav == "domains" {
		b = append(b, `<details class="relative min-w-0 max-w-[14rem] sm:max-w-xs" data-menu data-testid="domain-picker"><summary class="`+navLinkActive+` max-w-full cursor-pointer">`...)
	} else {
		b = append(b, `<details class="relative min-w-0 max-w-[14rem] sm:max-w-xs" data-menu data-testid="domain-picker"><summary class="`+navLinkIdle+` max-w-full cursor-pointer">`...)
	}
	b = appendIcon(b, "globe", "h-4 w-4 shrink-0")
	b = append(b, `<span class="sr-only">Domain: </span> `...)
	if p.CurrentDomain != "" {
		b = append(b, `<span class="truncate" data-testid="current-domain">`...)
		b = appendEscaped(b, p.CurrentDomain)
		b = append(b, `</span>`...)
	} else {
		b = append(b, `<span>Domains</span>`...)
	}
	b = appendIcon(b, "chevron-down", "h-4 w-4 shrink-0 opacity-70")
	b = append(b, `</summary><div class="menu-panel left-0"><p class="border-b border-gray-100 px-3 py-2 text-xs font-semibold uppercase tracking-wide text-gray-600 dark:border-gray-800 dark:text-gray-400">Your domains</p>`...)
	if len(p.Domains) == 0 {
		b = append(b, `<p class="px-3 py-3 text-sm text-gray-600 dark:text-gray-400">No domains to show.</p>`...)
	} else {
		b = append(b, `<ul class="max-h-80 overflow-y-auto py-1">`...)
		for i := range p.Domains {
			d := &p.Domains[i]
			if i >= PickerLimit && d.Label != p.CurrentDomain {
				continue
			}
			b = append(b, `<li><a href="`...)
			b = appendURL(b, d.URL)
			// The whole name, wrapped when long: cut short, two domains that differ only at
			// their end (…example.com, …example.org) would read the same.
			if d.Label == p.CurrentDomain {
				b = append(b, `" class="menu-item" aria-current="page" data-testid="domain-picker-item"><span class="min-w-0 font-semibold text-indigo-700 [overflow-wrap:anywhere] dark:text-indigo-300">`...)
			} else {
				b = append(b, `" class="menu-item" data-testid="domain-picker-item"><span class="min-w-0 [overflow-wrap:anywhere]">`...)
			}
			b = appendBreakable(b, d.Label) // between its labels, not inside one ("….co" / "m")
			b = append(b, `</span> `...)
			if d.Note != "" {
				b = append(b, `<span class="`...)
				b = append(b, roleBadge(d.Note)...)
				b = append(b, `">`...)
				b = appendEscaped(b, d.Note)
				b = append(b, `</span>`...)
			}
			b = append(b, `</a></li>`...)
		}
		b = append(b, `</ul>`...)
	}
	b = append(b, `<a href="/" class="menu-item border-t border-gray-100 font-medium dark:border-gray-800" data-testid="picker-all">All `...)
	if len(p.Domains) > PickerLimit {
		// The rest are on the home page, with its search: say how many there are.
		b = appendNumber(b, len(p.Domains))
		b = append(b, ' ')
	}
	return append(b, `domains</a></div></details>`...)
}

// PickerLimit is how many domains the picker lists (and the current one): every page carries
// it, and an account of thousands of domains made each page hundreds of kilobytes longer. The
// picker's last link leads to the rest, on the home page.
const PickerLimit = 20

// appendUserMenu appends the signed-in user's menu with the sign-out form.
func appendUserMenu(b []byte, p *Page) []byte {
	name := displayName(p.User)
	b = append(b, `<details class="relative" data-menu data-testid="user-menu"><summary class="focus-ring flex cursor-pointer items-center gap-2 rounded-full py-1 max-sm:py-2 pl-1 pr-2 text-sm font-medium text-gray-700 hover:bg-gray-100 dark:text-gray-200 dark:hover:bg-gray-800"><span class="flex h-7 w-7 items-center justify-center rounded-full bg-indigo-100 text-xs font-semibold text-indigo-800 dark:bg-indigo-900 dark:text-indigo-100" aria-hidden="true">`...)
	b = appendEscaped(b, initials(p.User))
	b = append(b, `</span> <span class="hidden max-w-[12rem] truncate md:inline">`...)
	b = appendEscaped(b, name)
	b = append(b, `</span> <span class="sr-only md:hidden">Account: `...)
	b = appendEscaped(b, name)
	b = append(b, `</span>`...)
	b = appendIcon(b, "chevron-down", "h-4 w-4 opacity-70")
	b = append(b, `</summary><div class="menu-panel right-0"><div class="px-3 py-3"><p class="text-xs text-gray-600 dark:text-gray-400">Signed in as</p><p class="truncate text-sm font-semibold" data-testid="user-name">`...)
	b = appendEscaped(b, name)
	b = append(b, `</p>`...)
	if p.User.Email != "" && p.User.Email != name {
		b = append(b, `<p class="truncate text-sm text-gray-600 dark:text-gray-400" data-testid="user-email">`...)
		b = appendEscaped(b, p.User.Email)
		b = append(b, `</p>`...)
	}
	if p.User.IsAdmin {
		b = append(b, `<p class="mt-2"><span class="badge badge-indigo">Administrator</span></p>`...)
	}
	// The form's hidden field is CSRFField's markup.
	b = append(b, `</div><form method="post" action="/auth/logout" class="border-t border-gray-100 p-2 dark:border-gray-800"><input type="hidden" name="_csrf" value="`...)
	b = appendEscaped(b, p.CSRFToken)
	b = append(b, `"><button type="submit" class="menu-item w-full rounded-md" data-testid="sign-out"><span>Sign out</span>`...)
	b = appendIcon(b, "logout", "h-4 w-4")
	return append(b, `</button></form></div></details>`...)
}

// appendBreadcrumbs appends the optional trail under the top bar.
func appendBreadcrumbs(b []byte, items []NavItem) []byte {
	if len(items) == 0 {
		return b
	}
	b = append(b, `<nav aria-label="Breadcrumb" class="mb-3"><ol class="flex flex-wrap items-center gap-1 text-sm text-gray-600 dark:text-gray-400">`...)
	for i := range items {
		it := &items[i]
		b = append(b, `<li class="flex min-w-0 items-center gap-1">`...)
		if i > 0 {
			b = appendIcon(b, "chevron-right", "h-3.5 w-3.5 shrink-0 opacity-60")
		}
		if i == len(items)-1 || it.URL == "" {
			b = append(b, `<span class="truncate font-medium text-gray-800 dark:text-gray-200" aria-current="page">`...)
			b = appendEscaped(b, it.Label)
			b = append(b, `</span>`...)
		} else {
			b = append(b, `<a href="`...)
			b = appendURL(b, it.URL)
			// 44 pixels high on a phone (and as wide, for a short name), a finger's size, with the
			// trail's height unchanged.
			b = append(b, `" class="focus-ring truncate rounded-sm hover:text-gray-900 hover:underline dark:hover:text-white max-sm:-my-3 max-sm:inline-block max-sm:min-w-11 max-sm:py-3">`...)
			b = appendEscaped(b, it.Label)
			b = append(b, `</a>`...)
		}
		b = append(b, `</li>`...)
	}
	return append(b, `</ol></nav>`...)
}

// appendFlashes appends the one-time messages shown after a redirect.
func appendFlashes(b []byte, fs []Flash) []byte {
	b = append(b, `<div role="status" aria-live="polite" class="mb-5 space-y-2 empty:hidden">`...)
	for i := range fs {
		f := &fs[i]
		kind := flashKind(f.Kind)
		b = append(b, `<div class="`...)
		b = append(b, flashClass(f.Kind)...)
		b = append(b, `" data-flash data-testid="flash" data-kind="`...)
		b = append(b, kind...)
		b = append(b, `">`...)
		switch kind {
		case "success":
			b = appendIcon(b, "check-circle", "mt-0.5 h-5 w-5 shrink-0")
		case "error", "warning":
			b = appendIcon(b, "alert", "mt-0.5 h-5 w-5 shrink-0")
		default:
			b = appendIcon(b, "info", "mt-0.5 h-5 w-5 shrink-0")
		}
		b = append(b, `<p class="min-w-0 flex-1 break-words" data-testid="flash-`...)
		b = append(b, kind...)
		b = append(b, `">`...)
		b = appendTimedText(b, f.Message)
		// The dismiss button is 24 pixels square, 44 on a phone (a finger's target); its negative
		// margin keeps the message as high as its first line of text either way.
		b = append(b, `</p><button type="button" hidden data-dismiss class="focus-ring -m-1 rounded-md p-1 opacity-70 max-sm:-m-3 max-sm:p-3.5 hover:opacity-100" aria-label="Dismiss message">`...)
		b = appendIcon(b, "x", "h-4 w-4")
		b = append(b, `</button></div>`...)
	}
	return append(b, `</div>`...)
}
