-- The registry: administrative units, citizens keyed by personal ID, their records and history.

CREATE TABLE provinces (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE communes (
    code          TEXT PRIMARY KEY,
    province_code TEXT NOT NULL REFERENCES provinces(code),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL
);

CREATE TABLE citizens (
    personal_id   TEXT PRIMARY KEY CHECK (personal_id ~ '^[0-9]{12}$'),
    full_name     TEXT NOT NULL,
    sex           CHAR(1) NOT NULL CHECK (sex IN ('M', 'F')),
    date_of_birth DATE NOT NULL,
    date_of_death DATE CHECK (date_of_death >= date_of_birth),
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
    sms_opt_out   BOOLEAN NOT NULL DEFAULT FALSE,
    email_opt_out BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    created_by    TEXT NOT NULL
);

-- Reports by commune and birth cohort; export in birth order (parents before children).
CREATE INDEX citizens_commune_birth ON citizens (commune_code, date_of_birth);
CREATE INDEX citizens_birth ON citizens (date_of_birth, personal_id);
CREATE INDEX citizens_household ON citizens (household_id) WHERE household_id IS NOT NULL;

CREATE TABLE citizen_history (
    id          BIGSERIAL PRIMARY KEY,
    personal_id TEXT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL,
    field       TEXT NOT NULL,
    old_value   TEXT,
    new_value   TEXT
);
CREATE INDEX citizen_history_citizen ON citizen_history (personal_id, id);

CREATE TABLE personal_id_changes (
    id         BIGSERIAL PRIMARY KEY,
    old_id     TEXT NOT NULL,
    new_id     TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    source     TEXT NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX personal_id_changes_new ON personal_id_changes (new_id);
CREATE INDEX personal_id_changes_old ON personal_id_changes (old_id);

CREATE TABLE immunizations (
    id          BIGSERIAL PRIMARY KEY,
    personal_id TEXT NOT NULL REFERENCES citizens(personal_id) ON UPDATE CASCADE,
    vaccine     TEXT NOT NULL,
    date_given  DATE NOT NULL,
    place       TEXT,
    recorded_at TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL,
    UNIQUE (personal_id, vaccine, date_given)
);

CREATE TABLE id_cards (
    id          BIGSERIAL PRIMARY KEY,
    personal_id TEXT NOT NULL REFERENCES citizens(personal_id) ON UPDATE CASCADE,
    issued_on   DATE NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL,
    UNIQUE (personal_id, issued_on)
);
