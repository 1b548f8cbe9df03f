-- The domains the audit page offers and scopes by (AuditDomains) are those of the entries other
-- than refusals. A refusal (access.denied) names the domain of the refused URL, which is the
-- user's to choose: any signed-in user could make the trail name tens of thousands of made-up
-- domains a day, and reading them all (a walk of audit_entry_domain, one step per domain) came
-- near the store's deadline on every view of the audit page. This index holds the domains of
-- the other entries, which only a user allowed to act on a domain writes; the refusals keep
-- their domain, found through audit_entry_domain.
CREATE INDEX audit_entry_domain_acted ON audit_log (domain) WHERE kind = 'entry' AND action <> 'access.denied';
