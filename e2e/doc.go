// Package e2e holds SMTP Desk's browser end-to-end tests. They start the real demo wiring
// (app.StartDemo: the sandbox Mailgun, the in-process OpenID provider and a fresh SQLite file) on
// a loopback port and drive Debian's Chromium, headless, with chromedp. Every page a journey
// visits is checked with axe-core, in light and dark mode, and, when asked, photographed at 1280
// and 390 pixels wide.
//
// Run them with ./scripts/test.sh (which installs Chromium and the npm packages when missing) or
// with `go test ./e2e/`. Settings, all optional:
//
//	CHROMIUM_PATH            the browser (default /usr/bin/chromium)
//	SMTPDESK_SCREENSHOTS     photograph every page into this directory; failure artifacts go there
//	                         too (default /tmp/smtpdesk-screenshots, with no photographs)
//	SMTPDESK_SCREENSHOTS_ALL 1 = photograph (and check in dark mode) every step, not once per page
//
// The package has no non-test code.
package e2e
