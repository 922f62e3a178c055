-- The provisioning log moved to its own file (migrations/sqlite-log); its rows were copied
-- there before this runs (store/src/sqlite/log.rs, `move_into_log_file`).
DROP TABLE IF EXISTS provisioning_log;
