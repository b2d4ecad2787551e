-- Personal staff accounts (issue #12): a person signs in with a username and a password, so
-- the audit trail names the person; keys stay for machines. Usernames and key names are one
-- namespace (the CLI refuses a name the other table holds), so the audit's "who" is unique.
-- Passwords are kept only as Argon2id hashes (PHC strings).

CREATE TABLE staff_users (
    username        TEXT PRIMARY KEY,
    full_name       TEXT NOT NULL DEFAULT '',
    role            TEXT NOT NULL,            -- admin, registrar, health, education, auditor
    provinces       TEXT NOT NULL DEFAULT '', -- as api_keys
    communes        TEXT NOT NULL DEFAULT '',
    password_hash   TEXT NOT NULL,
    must_change     INTEGER NOT NULL DEFAULT 0, -- a one-time password: changed at the first sign-in
    failed_count    INTEGER NOT NULL DEFAULT 0, -- wrong passwords in a row
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    disabled_at     TEXT
);

-- A person's browser session: a random id in an HttpOnly cookie, stored hashed. Deleting a
-- user's rows ends every session at once (disable, "sign out everywhere", a new password).
CREATE TABLE staff_sessions (
    id_hash     TEXT PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES staff_users (username),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (username);
