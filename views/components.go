package views

import (
	"strings"

	"github.com/a-h/templ"
)

// Field describes one labelled form control for FormField and TextareaField.
type Field struct {
	Name         string // the form field name; the control's id is "f-" + Name
	Label        string
	Hint         string // shown under the control and linked by aria-describedby
	Error        string // inline error; sets aria-invalid
	Value        string // never set for passwords
	Type         string // "text" (default), "password", "email", "search", "date"
	TestID       string // data-testid of the control
	Autocomplete string
	Placeholder  string
	Required     bool
	Mono         bool // monospace input (logins, passwords)
	Rows         int  // textarea rows
	Lines        bool // a textarea of one item per line: no soft wrapping, so that a long line does not look like two
	Attrs        templ.Attributes
}

func (f Field) inputType() string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}

func (f Field) inputClass() string {
	if f.Mono {
		return "input font-mono"
	}
	return "input"
}

// controlAttrs are the accessibility and test attributes every control of a Field carries.
func (f Field) controlAttrs() templ.Attributes {
	a := templ.Attributes{}
	if f.Error != "" {
		a["aria-invalid"] = "true"
		// The page's script focuses the first element asking for it: after a refused form, the
		// first field to fix (or a summary or alert above it), so that a screen reader says
		// what went wrong instead of starting again from the top.
		a["data-autofocus"] = true
	}
	if d := describedBy(f.Name, f.Hint, f.Error); d != "" {
		a["aria-describedby"] = d
	}
	if f.TestID != "" {
		a["data-testid"] = f.TestID
	}
	if f.Autocomplete != "" {
		a["autocomplete"] = f.Autocomplete
	}
	if f.Placeholder != "" {
		a["placeholder"] = f.Placeholder
	}
	if f.Required {
		a["required"] = true
	}
	for k, v := range f.Attrs {
		a[k] = v
	}
	return a
}

// shellOpts shape the frame around a page.
type shellOpts struct {
	Heading   bool            // show the page title and subtitle
	Aside     templ.Component // shown beside the heading (badges, actions)
	ErrorPage bool            // the page shows the request id itself
}

// rowURL passes a URL the handler built (a root-relative path with url.PathEscape'd segments) to
// templ as a templ.SafeURL, so templ does not sanitize it again on every row; anything else
// still goes through templ.URL's sanitizer.
func rowURL(u string) templ.SafeURL {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.HasPrefix(u, "/\\") {
		return templ.SafeURL(u)
	}
	return templ.URL(u)
}

// anyConfirm says whether any row of the page can be confirmed in the dialog.
func anyConfirm(vm CredentialsVM) bool {
	if vm.LoginURL == "" {
		return false
	}
	for _, r := range vm.Rows {
		if r.CanDelete && !r.System {
			return true
		}
	}
	return false
}
