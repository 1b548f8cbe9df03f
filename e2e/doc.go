// Package e2e holds SMTP Desk's browser end-to-end tests. They start the real demo wiring
// (app.StartDemo: the sandbox Mailgun, the in-process OpenID provider and a fresh SQLite file) on
// a loopback port and drive Debian's Chromium, headless, with chromedp. Every page a journey
// visits is checked with axe-core and photographed at 1280 and 390 pixels wide.
//
// Run them with ./scripts/test.sh (which installs Chromium and the npm packages when missing) or
// with `go test ./e2e/`. Settings, all optional:
//
//	CHROMIUM_PATH            the browser (default /usr/bin/chromium)
//	SMTPDESK_SCREENSHOTS     where screenshots and failure artifacts go (default /tmp/smtpdesk-screenshots)
//	SMTPDESK_SCREENSHOTS_ALL 1 = a screenshot at every step, not once per distinct page
//
// The package has no non-test code.
package e2e
