-- Facilities (issue #13 item 1): each commune's health station, police post and schools, with
-- what a reminder names so that a family can act on it: the address, the phone, the opening
-- hours and, for a health station, its vaccination session days ("15" for the 15th of each
-- month, "T4" for Wednesdays: the cell form of `SessionDays`). Empty text is "not known".
--
-- A commune has one health station and one police post: a row of either kind replaces the
-- commune's, whatever its name (facilities_one_post). Schools are told apart by name
-- (facilities_key). `updated_by` is the username, key name or `cli` of the last change.

CREATE TABLE facilities (
    commune_code  TEXT NOT NULL REFERENCES communes (code),
    kind          TEXT NOT NULL CHECK (kind IN ('health', 'police', 'school')),
    name          TEXT NOT NULL CHECK (name <> ''),
    address       TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    hours         TEXT NOT NULL DEFAULT '',
    session_days  TEXT NOT NULL DEFAULT '',
    updated_by    TEXT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX facilities_key ON facilities (commune_code, kind, name);
CREATE UNIQUE INDEX facilities_one_post ON facilities (commune_code, kind)
    WHERE kind IN ('health', 'police');
