-- Zalo ZNS as a channel (issue #16): a ZNS notice carries its rendered template parameters,
-- a ZNS message its template id and data (the readable SMS text stays in `body` for staff),
-- and the OA's tokens and the day's ZNS count live here, shared by every instance.
ALTER TABLE notices ADD COLUMN zns_data TEXT;
ALTER TABLE messages ADD COLUMN zns_template_id TEXT;
ALTER TABLE messages ADD COLUMN template_data TEXT;

-- One row: the OA's access token and the refresh token it rotates with. `seed_hash` is the
-- SHA-256 of the VONGDOI_ZNS_REFRESH_TOKEN it was seeded from (a new one from the operator
-- replaces the stored chain); `refreshing_*` is the lease of the instance rotating it, so two
-- instances never spend the same single-use refresh token.
CREATE TABLE zns_tokens (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    access_token     TEXT,
    refresh_token    TEXT NOT NULL,
    expires_at       TIMESTAMPTZ,
    seed_hash        TEXT NOT NULL,
    refreshing_by    TEXT,
    refreshing_until TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- ZNS sends handed to Zalo per Vietnam day (VONGDOI_ZNS_DAILY_QUOTA).
CREATE TABLE zns_quota (
    day  DATE PRIMARY KEY,
    used BIGINT NOT NULL
);
