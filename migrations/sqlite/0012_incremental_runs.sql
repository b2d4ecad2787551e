-- Incremental runs shared by several instances (issue #14).
--
-- next_check: the first day the scheduler must look at this citizen again — the next day their
-- forecast can change (rules::next_change), or '0001-01-01' when their records changed and they
-- have not been evaluated since (every new row starts so). A day's run evaluates the citizens
-- whose next_check has come, not the whole registry.
-- revision: counts those changes. The run writes next_check only where revision is still the
-- one it read, so a change made while the citizen was being evaluated is never lost.
ALTER TABLE citizens ADD COLUMN next_check TEXT NOT NULL DEFAULT '0001-01-01';
ALTER TABLE citizens ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX citizens_next_check ON citizens (next_check, personal_id);

-- Marking lives in the database, not in each write path: an import, the API, a staff page, a
-- change of ID or a script all mark the citizen alike, and a path added later cannot forget.
-- Only what the rule engine reads counts: sex, birth, death, commune and the records.
CREATE TRIGGER citizens_mark AFTER UPDATE OF personal_id, sex, date_of_birth, date_of_death, commune_code ON citizens
WHEN NEW.personal_id IS NOT OLD.personal_id OR NEW.sex IS NOT OLD.sex OR NEW.date_of_birth IS NOT OLD.date_of_birth
  OR NEW.date_of_death IS NOT OLD.date_of_death OR NEW.commune_code IS NOT OLD.commune_code
BEGIN
  UPDATE citizens SET next_check = '0001-01-01', revision = revision + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER immunizations_mark_insert AFTER INSERT ON immunizations BEGIN
  UPDATE citizens SET next_check = '0001-01-01', revision = revision + 1 WHERE personal_id = NEW.personal_id;
END;
CREATE TRIGGER immunizations_mark_update AFTER UPDATE ON immunizations BEGIN
  UPDATE citizens SET next_check = '0001-01-01', revision = revision + 1 WHERE personal_id IN (NEW.personal_id, OLD.personal_id);
END;
CREATE TRIGGER immunizations_mark_delete AFTER DELETE ON immunizations BEGIN
  UPDATE citizens SET next_check = '0001-01-01', revision = revision + 1 WHERE personal_id = OLD.personal_id;
END;
CREATE TRIGGER id_cards_mark_insert AFTER INSERT ON id_cards BEGIN
  UPDATE citizens SET next_check = '0001-01-01', revision = revision + 1 WHERE personal_id = NEW.personal_id;
END;
CREATE TRIGGER id_cards_mark_update AFTER UPDATE ON id_cards BEGIN
  UPDATE citizens SET next_check = '0001-01-01', revision = revision + 1 WHERE personal_id IN (NEW.personal_id, OLD.personal_id);
END;
CREATE TRIGGER id_cards_mark_delete AFTER DELETE ON id_cards BEGIN
  UPDATE citizens SET next_check = '0001-01-01', revision = revision + 1 WHERE personal_id = OLD.personal_id;
END;

-- A day's run: `full` when it evaluates everyone (the first run, changed rules, `run --full`),
-- with the rules' fingerprint it ran with.
ALTER TABLE runs ADD COLUMN full_pass INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN rules TEXT;

-- A day's work in shards: personal-ID ranges [first_id, end_id) ('' = no bound), each leased by
-- one instance at a time (short leases, renewed with every page), so several instances share a
-- day; the day is finished when its last shard is. checkpoint: the last personal ID of a full
-- pass's committed page (an incremental shard needs none: evaluated citizens leave its set).
CREATE TABLE run_shards (
    as_of        TEXT NOT NULL REFERENCES runs(as_of),
    shard        INTEGER NOT NULL,
    first_id     TEXT NOT NULL,
    end_id       TEXT NOT NULL,
    status       TEXT NOT NULL,          -- scanning, finished
    checkpoint   TEXT,
    lease_owner  TEXT,
    lease_until  TEXT,
    evaluated    BIGINT NOT NULL DEFAULT 0,
    notices      BIGINT NOT NULL DEFAULT 0,
    finished_at  TEXT,
    PRIMARY KEY (as_of, shard)
) WITHOUT ROWID;

-- A day being scanned when this version was installed carries on as one shard of a full pass.
INSERT INTO run_shards (as_of, shard, first_id, end_id, status, checkpoint, evaluated, notices)
SELECT as_of, 0, '', '', 'scanning', checkpoint, evaluated, notices FROM runs WHERE status = 'scanning';
UPDATE runs SET lease_owner = NULL, lease_until = NULL;
