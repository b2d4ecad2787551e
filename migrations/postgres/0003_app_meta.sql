-- Small facts about the database itself, e.g. which version of the embedded administrative
-- units it holds, so that start-up re-seeds them only when the binary carries new ones.
CREATE TABLE app_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
