// Package security holds SMTP Desk's end-to-end security and reliability sweep: one test per
// item of the security bar (TestSecurity01CookieFlags … TestSecurity24ActionRateLimit) and the
// fault drills, each driving the real app (app.New, its middleware, handlers, SQLite store and
// Mailgun client) against the sandbox Mailgun and the demo OpenID provider on loopback. Every
// test also scans the app's log output and database files for secrets when it ends.
//
// The package has no code of its own; see docs/SECURITY.md for the item-to-test table.
package security
