-- The registry: administrative units, citizens keyed by personal ID, their records and history.
-- Dates are TEXT 'YYYY-MM-DD' and times RFC 3339 TEXT, the forms sqlx's chrono types use.

CREATE TABLE provinces (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE communes (
    code          TEXT PRIMARY KEY,
    province_code TEXT NOT NULL REFERENCES provinces(code),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL
) WITHOUT ROWID;

-- A rowid table with a unique personal-ID index rather than WITHOUT ROWID: rows are wide, and
-- appending them in rowid order while only the narrow ID index takes random inserts is what
-- keeps a million-row import fast (SQLite's own advice for rows this size).
CREATE TABLE citizens (
    id            INTEGER PRIMARY KEY,
    personal_id   TEXT NOT NULL UNIQUE CHECK (length(personal_id) = 12),
    full_name     TEXT NOT NULL,
    sex           TEXT NOT NULL CHECK (sex IN ('M', 'F')),
    date_of_birth TEXT NOT NULL,
    date_of_death TEXT,
    commune_code  TEXT NOT NULL REFERENCES communes(code),
    household_id  TEXT,
    -- Links by personal ID; not foreign keys because a parent may be registered after the
    -- child. The importer checks them and drops a link that points nowhere.
    mother_id     TEXT,
    father_id     TEXT,
    guardian_id   TEXT,
    phone         TEXT,
    email         TEXT,
    language      TEXT NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    sms_opt_out   INTEGER NOT NULL DEFAULT 0,
    email_opt_out INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL
);

-- Reports by commune and birth cohort; export in birth order (parents before children).
CREATE INDEX citizens_commune_birth ON citizens (commune_code, date_of_birth);
CREATE INDEX citizens_birth ON citizens (date_of_birth, personal_id);
CREATE INDEX citizens_household ON citizens (household_id) WHERE household_id IS NOT NULL;

-- One row per changed field: what changed, when, and which import or command changed it.
CREATE TABLE citizen_history (
    id          INTEGER PRIMARY KEY,
    personal_id TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    source      TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT
);
CREATE INDEX citizen_history_citizen ON citizen_history (personal_id, id);

-- A personal ID re-established under Law on Identification 2023 Art. 24.
CREATE TABLE personal_id_changes (
    id         INTEGER PRIMARY KEY,
    old_id     TEXT NOT NULL,
    new_id     TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    source     TEXT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX personal_id_changes_new ON personal_id_changes (new_id);
CREATE INDEX personal_id_changes_old ON personal_id_changes (old_id);

-- Records are clustered by citizen (WITHOUT ROWID, keyed by personal ID first): one B-tree to
-- insert into instead of a table and an index, and a scan in personal-ID order reads each
-- citizen's records from neighbouring pages. The same dose recorded twice is one dose.
CREATE TABLE immunizations (
    personal_id TEXT NOT NULL REFERENCES citizens(personal_id) ON UPDATE CASCADE,
    vaccine     TEXT NOT NULL,
    date_given  TEXT NOT NULL,
    place       TEXT,
    recorded_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    PRIMARY KEY (personal_id, vaccine, date_given)
) WITHOUT ROWID;

CREATE TABLE id_cards (
    personal_id TEXT NOT NULL REFERENCES citizens(personal_id) ON UPDATE CASCADE,
    issued_on   TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    PRIMARY KEY (personal_id, issued_on)
) WITHOUT ROWID;
