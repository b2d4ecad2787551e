-- Incremental runs shared by several instances (issue #14). See the SQLite migration of the
-- same number for what each part is for; only the dialect differs.
ALTER TABLE citizens ADD COLUMN next_check DATE NOT NULL DEFAULT DATE '0001-01-01';
ALTER TABLE citizens ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
CREATE INDEX citizens_next_check ON citizens (next_check, personal_id);

-- A change to what the rule engine reads marks the row itself, before it is written.
CREATE FUNCTION citizens_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.personal_id, NEW.sex, NEW.date_of_birth, NEW.date_of_death, NEW.commune_code)
     IS DISTINCT FROM (OLD.personal_id, OLD.sex, OLD.date_of_birth, OLD.date_of_death, OLD.commune_code) THEN
    NEW.next_check := DATE '0001-01-01';
    NEW.revision := OLD.revision + 1;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER citizens_mark BEFORE UPDATE ON citizens FOR EACH ROW EXECUTE FUNCTION citizens_mark();

-- Records mark their citizens once per statement (an import writes thousands in one).
CREATE FUNCTION records_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE citizens SET next_check = DATE '0001-01-01', revision = revision + 1
  WHERE personal_id IN (SELECT personal_id FROM changed_rows);
  RETURN NULL;
END $$;
CREATE TRIGGER immunizations_mark_insert AFTER INSERT ON immunizations
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION records_mark();
CREATE TRIGGER immunizations_mark_update AFTER UPDATE ON immunizations
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION records_mark();
CREATE TRIGGER immunizations_mark_delete AFTER DELETE ON immunizations
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION records_mark();
CREATE TRIGGER id_cards_mark_insert AFTER INSERT ON id_cards
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION records_mark();
CREATE TRIGGER id_cards_mark_update AFTER UPDATE ON id_cards
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION records_mark();
CREATE TRIGGER id_cards_mark_delete AFTER DELETE ON id_cards
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION records_mark();

ALTER TABLE runs ADD COLUMN full_pass BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE runs ADD COLUMN rules TEXT;

CREATE TABLE run_shards (
    as_of        DATE NOT NULL REFERENCES runs(as_of),
    shard        INTEGER NOT NULL,
    first_id     TEXT NOT NULL,
    end_id       TEXT NOT NULL,
    status       TEXT NOT NULL,
    checkpoint   TEXT,
    lease_owner  TEXT,
    lease_until  TIMESTAMPTZ,
    evaluated    BIGINT NOT NULL DEFAULT 0,
    notices      BIGINT NOT NULL DEFAULT 0,
    finished_at  TIMESTAMPTZ,
    PRIMARY KEY (as_of, shard)
);

INSERT INTO run_shards (as_of, shard, first_id, end_id, status, checkpoint, evaluated, notices)
SELECT as_of, 0, '', '', 'scanning', checkpoint, evaluated, notices FROM runs WHERE status = 'scanning';
UPDATE runs SET lease_owner = NULL, lease_until = NULL;
