// Package handlers is SMTP Desk's HTTP surface on echo: the whole URL table (routes.go: Register
// adds health, static files, the sign-in flow and, behind auth.RequireUser, the domain,
// credential and audit pages), the middleware every request goes through (Use: request id,
// security headers, gzip, access log, metrics, recover, body limits), and the one error handler
// that maps errors to statuses and safe pages (errors.go: ErrorHandler).
//
// Handlers are thin: they bind and validate the request, authorize it against the access policy
// for the domain in its URL, record the audit entry (pending, then its outcome), call Mailgun,
// and render a views page from a view model into a buffer (Render), so that a render error still
// becomes a clean error page. Mailgun, the audit trail and the store are reached through the
// small interfaces this package declares (CredentialsAPI, Auditor, AuditLog, FormTokens), which
// tests fill with fakes. docs/ARCHITECTURE.md describes each page.
package handlers
