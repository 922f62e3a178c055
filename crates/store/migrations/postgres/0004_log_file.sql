-- SQLite moved its provisioning log to a file of its own (migration 4 there); PostgreSQL
-- keeps it in the database. Kept so that both backends share their migration numbers.
SELECT 1;
