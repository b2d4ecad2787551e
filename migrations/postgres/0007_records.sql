-- Records a nurse keeps (issue #12, items 5 and 6): where a citizen lives within the commune
-- (thôn / tổ dân phố and an address line, both optional, imported and exported), the lot number
-- of a dose, and why a change was made (a wrong dose removed: the removal stays in the
-- citizen's history with its reason).
ALTER TABLE citizens ADD COLUMN village TEXT;
ALTER TABLE citizens ADD COLUMN address TEXT;
ALTER TABLE immunizations ADD COLUMN lot TEXT;
ALTER TABLE citizen_history ADD COLUMN reason TEXT;
-- Worklists filter a commune's children by village.
CREATE INDEX citizens_commune_village ON citizens (commune_code, village) WHERE village IS NOT NULL;
