-- The actor filter matches an entry's e-mail and name without regard to case. SQLite's LOWER
-- folds only ASCII (and PostgreSQL's follows the database's locale), so a name such as "Émile"
-- could not be found by any spelling on SQLite. Each row keeps its actor's e-mail and name
-- folded in Go, joined by a line break (which the filter cannot contain), in actor_fold;
-- foldAuditActors (store/audit.go) fills it for the rows written before. It is outside the
-- hash, like audit_logins, and VerifyAudit checks it against the hashed fields.
ALTER TABLE audit_log ADD COLUMN actor_fold TEXT NOT NULL DEFAULT '';
