-- Console administrators and their sessions; indexes for the console's dashboards and lists.
-- Never edit a migration that has shipped: add a new file.

CREATE TABLE admin_accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL UNIQUE,  -- case-folded name: "Admin" and "admin" are one account
    password_hash TEXT NOT NULL,         -- argon2id PHC string
    created       TEXT NOT NULL,
    last_login    TEXT
);

-- Sessions live here, not in process memory, so several scimd processes share them.
CREATE TABLE admin_sessions (
    id_hash    BLOB PRIMARY KEY,         -- SHA-256 of the cookie's session id; the id is never stored
    admin_id   INTEGER NOT NULL REFERENCES admin_accounts(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created    TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Dashboard: last SCIM request and 24 h counts per service without scanning other services.
CREATE INDEX provisioning_log_service_time ON provisioning_log (service_id, time);
-- User lists filtered by status.
CREATE INDEX users_status ON users (service_id, status, user_name_key);
