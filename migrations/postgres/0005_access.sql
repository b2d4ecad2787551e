-- API keys, staff sessions and the audit trail (issue #6). A key is shown once when created;
-- only its SHA-256 hash is kept. Every read or change of a person's data through the API or
-- the staff pages leaves one audit row (Law 91/2025/QH15: who read whose data).

CREATE TABLE api_keys (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,            -- admin, registrar, health, education, auditor
    provinces   TEXT NOT NULL DEFAULT '', -- comma-separated 2-digit codes; empty with communes empty = everywhere
    communes    TEXT NOT NULL DEFAULT '', -- comma-separated 5-digit codes
    key_hash    TEXT NOT NULL UNIQUE,     -- lowercase hex SHA-256 of the key
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- A browser session of the staff pages: a random id in an HttpOnly cookie, stored hashed.
CREATE TABLE api_sessions (
    id_hash     TEXT PRIMARY KEY,
    key_name    TEXT NOT NULL REFERENCES api_keys (name),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    key_name    TEXT NOT NULL,
    role        TEXT NOT NULL,
    personal_id TEXT NOT NULL,            -- whose data was read or changed
    action      TEXT NOT NULL,            -- read, forecast, create, update, immunization, id-card, report:vaccination, …
    detail      TEXT
);
CREATE INDEX audit_citizen ON audit (personal_id, at);
CREATE INDEX audit_key ON audit (key_name, at);
