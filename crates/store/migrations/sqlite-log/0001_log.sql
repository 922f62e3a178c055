-- The provisioning log's own database file (`<database>.log.db`, beside `scimd.db`): its
-- commits, one every few hundred requests, then never touch the directory's file, whose
-- readers keep their page caches and snapshots (docs/architecture.md).
-- No foreign key to `services`, which live in the other file; services are never deleted.
CREATE TABLE IF NOT EXISTS provisioning_log (
    id            INTEGER PRIMARY KEY,
    service_id    INTEGER NOT NULL,
    time          TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    method        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT,
    operation     TEXT NOT NULL,
    status        INTEGER NOT NULL,
    error_detail  TEXT,
    warnings      TEXT NOT NULL          -- JSON array of strings
);
CREATE INDEX IF NOT EXISTS provisioning_log_service ON provisioning_log (service_id, id);
CREATE INDEX IF NOT EXISTS provisioning_log_resource ON provisioning_log (service_id, resource_id);
CREATE INDEX IF NOT EXISTS provisioning_log_service_time ON provisioning_log (service_id, time);
