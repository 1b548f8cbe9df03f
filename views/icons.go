package views

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/a-h/templ"
)

// An icon's markup depends only on its name and class, and a page draws the same few dozen
// icons over and over, so icon renders each pair once with the iconSVG template and keeps the
// bytes. The cache is a copy-on-write map: a lookup is one map read, without a lock or an
// allocation.

// iconKey names one rendered icon.
type iconKey struct{ name, class string }

// svgBytes is rendered markup that renders itself.
type svgBytes []byte

// Render writes the markup, or the context's error as a templ component would.
func (s *svgBytes) Render(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := w.Write(*s)
	return err
}

// iconCacheMax bounds the cache: the icons of the templates are a few dozen pairs, so reaching
// the bound would mean a caller passes names or classes that vary, which are then rendered
// every time instead of filling memory.
const iconCacheMax = 512

var (
	iconCache   atomic.Pointer[map[iconKey]*svgBytes]
	iconCacheMu sync.Mutex // serialises the writers of iconCache
)

// icon is an inline SVG icon (Heroicons-style outline) that takes the text colour; class sizes
// and places it.
func icon(name, class string) templ.Component {
	return iconMarkup(name, class)
}

// iconMarkup returns the markup of iconSVG(name, class), from the cache when it is there.
func iconMarkup(name, class string) *svgBytes {
	k := iconKey{name, class}
	if m := iconCache.Load(); m != nil {
		if s, ok := (*m)[k]; ok {
			return s
		}
	}
	s := renderIcon(iconSVG(name, class))
	iconCacheMu.Lock()
	defer iconCacheMu.Unlock()
	old := iconCache.Load()
	var n int
	if old != nil {
		if cached, ok := (*old)[k]; ok {
			return cached
		}
		n = len(*old)
	}
	if n >= iconCacheMax {
		return s
	}
	m := make(map[iconKey]*svgBytes, n+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[k] = s
	iconCache.Store(&m)
	return s
}

// renderIcon renders an icon template. The icon templates use the context only to stop early,
// so a background context gives the same bytes as the page's.
func renderIcon(c templ.Component) *svgBytes {
	var b bytes.Buffer
	// Rendering into a bytes.Buffer cannot fail, and the templates take no input that can.
	_ = c.Render(context.Background(), &b)
	s := svgBytes(b.Bytes())
	return &s
}

// appendIcon appends the markup of icon(name, class).
func appendIcon(b []byte, name, class string) []byte {
	return append(b, *iconMarkup(name, class)...)
}

// logoMarkup is the markup of iconLogo.
var logoMarkup = sync.OnceValue(func() *svgBytes { return renderIcon(iconLogo()) })
