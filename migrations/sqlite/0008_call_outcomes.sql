-- What came of calling a family from the worklist (issue #12): "đã gọi – hẹn ngày…", "không
-- liên lạc được", "chuyển đi", "từ chối", "đã tiêm nơi khác", with a note. Kept as a history:
-- the list shows the latest, the citizen's page all of them.

CREATE TABLE call_outcomes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    personal_id  TEXT NOT NULL,           -- the child called about
    outcome      TEXT NOT NULL,           -- appointment, unreachable, moved, refused, elsewhere
    appointment  TEXT,                    -- the day agreed, for "appointment"
    note         TEXT NOT NULL DEFAULT '',
    recorded_by  TEXT NOT NULL,           -- username or key name (as the audit's "who")
    recorded_at  TEXT NOT NULL
);
CREATE INDEX call_outcomes_child ON call_outcomes (personal_id, recorded_at);
