-- A domain's password ages (LastOK) and its system logins (NewestOKMarked) read the entries of
-- one action on one domain. With an index on the domain alone and one on the action alone,
-- SQLite (which keeps no statistics here) and PostgreSQL before its first ANALYZE read them
-- through the action's: every reset of every domain, 300,000 rows on a trail of 1,000,000
-- entries, for each domain page whose password ages were not cached (0.25 s on SQLite, for a
-- domain of five logins as for one of sixty). Through this index they read that domain's entries
-- of that action only. It is built in the migration's transaction, which holds off the trail's
-- writes while it runs: a few seconds for millions of entries.
CREATE INDEX audit_entry_domain_action ON audit_log (domain, action, id) WHERE kind = 'entry';
