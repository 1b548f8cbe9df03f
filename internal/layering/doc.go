// Package layering has no code: its test holds every package of the module to the import rules
// docs/ARCHITECTURE.md records, so a new import that crosses a layer fails the build's tests
// instead of waiting for a reviewer to notice.
package layering
