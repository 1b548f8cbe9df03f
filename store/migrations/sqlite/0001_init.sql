-- Sessions: the raw session id is never stored, only hex(sha256(id)).
-- Times are unix nanoseconds (UTC) in every table, the same on both dialects.
CREATE TABLE sessions (
    id_hash    TEXT    NOT NULL PRIMARY KEY,
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- Audit trail: an append-only hash chain. Rows of kind 'entry' are actions
-- and events; rows of kind 'completion' finish an action (ref_id). The final_*
-- and completed_at columns are a denormalized copy of the completion row,
-- outside the hash; VerifyAudit checks they match it.
CREATE TABLE audit_log (
    id               INTEGER NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL,
    time             INTEGER NOT NULL,
    actor_issuer     TEXT    NOT NULL DEFAULT '',
    actor_subject    TEXT    NOT NULL DEFAULT '',
    actor_email      TEXT    NOT NULL DEFAULT '',
    actor_name       TEXT    NOT NULL DEFAULT '',
    action           TEXT    NOT NULL,
    domain           TEXT    NOT NULL DEFAULT '',
    logins           TEXT    NOT NULL DEFAULT '[]',
    outcome          TEXT    NOT NULL,
    upstream_status  INTEGER NOT NULL DEFAULT 0,
    upstream_message TEXT    NOT NULL DEFAULT '',
    request_id       TEXT    NOT NULL DEFAULT '',
    client_ip        TEXT    NOT NULL DEFAULT '',
    user_agent       TEXT    NOT NULL DEFAULT '',
    detail           TEXT    NOT NULL DEFAULT '',
    ref_id           INTEGER,
    prev_hash        TEXT    NOT NULL,
    hash             TEXT    NOT NULL,
    final_outcome    TEXT,
    final_status     INTEGER,
    final_message    TEXT,
    completed_at     INTEGER
);
CREATE INDEX audit_entry_id ON audit_log (id) WHERE kind = 'entry';
CREATE INDEX audit_entry_domain ON audit_log (domain, id) WHERE kind = 'entry';
CREATE INDEX audit_entry_action ON audit_log (action, id) WHERE kind = 'entry';
CREATE INDEX audit_entry_time ON audit_log (time) WHERE kind = 'entry';
CREATE INDEX audit_ref ON audit_log (ref_id) WHERE ref_id IS NOT NULL;

-- Logins of each entry, for the exact-login filter (a credential's history).
CREATE TABLE audit_logins (
    entry_id INTEGER NOT NULL,
    login    TEXT    NOT NULL,
    PRIMARY KEY (entry_id, login)
);
CREATE INDEX audit_logins_login ON audit_logins (login, entry_id);

-- The last row removed by retention: the chain's anchor.
CREATE TABLE audit_anchor (
    one     INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
    last_id INTEGER NOT NULL,
    hash    TEXT    NOT NULL
);
