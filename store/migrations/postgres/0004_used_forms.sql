-- One row per create or reset form acted on: the SHA-256 of the form's one-time token and when
-- it was used. A form sent again (a reload of the page its POST answered, the back button, a
-- double click) finds its row and is refused, so the action never runs twice; the primary key
-- makes "is it new?" and "record it" one statement, whichever replica answers. Rows older than
-- any session are deleted by the session sweep.
CREATE TABLE used_forms (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    used_at    BIGINT NOT NULL
);
CREATE INDEX used_forms_used_at ON used_forms (used_at);
