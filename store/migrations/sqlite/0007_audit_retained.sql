-- What retention (DeleteAuditBefore) would otherwise take from the pages: for each login of a
-- domain, its newest reset and its newest create that completed OK (a reset's time, a create's
-- detail), copied here when the entry itself is removed, and forgotten when a successful delete
-- of the login is. A domain's password ages (LastOK: the last reset through SMTP Desk)
-- and its system logins (NewestOKMarked: created as such) read it beside the trail; without it,
-- AUDIT_RETENTION=180d marked a login reset 200 days ago "consider rotating" again, counting from
-- its creation, and a system login lost its mark (and got a Delete Mailgun refuses). It keeps no
-- actor, client or request: the trail's evidence goes with the trail.
CREATE TABLE audit_retained (
    domain        TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    login         TEXT    NOT NULL,
    entry_id      INTEGER NOT NULL,
    time          INTEGER NOT NULL,
    detail        TEXT    NOT NULL,
    final_message TEXT    NOT NULL,
    completed_at  INTEGER NOT NULL,
    PRIMARY KEY (domain, login, action) -- by login: a batch's changes are looked up by domain and login
);
-- The SHA-256 of audit_retained as retention left it (each batch, with the anchor it moves on):
-- VerifyAudit compares, so a row added or changed outside retention is found (a forged "system
-- login", a hidden password age); the table is outside the chain, like the anchor.
ALTER TABLE audit_anchor ADD COLUMN retained TEXT NOT NULL DEFAULT '';
