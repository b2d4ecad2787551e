-- School places (issue #12 item 8): per commune, school, level and school year, the places a
-- planner uploaded, with who uploaded them and when. The enrolment forecast sets the sum over a
-- commune's schools against the children entering. `school_year` is the year it starts (2027
-- for 2027–2028); NULL means every year, and a school's row for one year replaces its
-- every-year row in that year. An upload replaces every row of the communes it names (those
-- with at least one good row), so a commune's rows always come from one upload. Rows of one
-- (commune, school, level, year) in a file are added up before they are stored, so the key is
-- unique here.

CREATE TABLE school_places (
    commune_code  TEXT NOT NULL REFERENCES communes (code),
    school        TEXT NOT NULL DEFAULT '', -- the school's name; '' when the file names none
    level         TEXT NOT NULL,            -- kindergarten-5, grade-1, grade-6, grade-10
    school_year   INTEGER,                  -- the year it starts; NULL = every year
    places        BIGINT NOT NULL CHECK (places >= 0),
    uploaded_by   TEXT NOT NULL,            -- the username or key name
    uploaded_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX school_places_key
    ON school_places (commune_code, school, level, COALESCE(school_year, 0));
