-- scimd schema, PostgreSQL (same version numbers as migrations/sqlite). Never edit a migration that has shipped: add a new file.

CREATE TABLE services (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    params      TEXT NOT NULL,           -- JSON of domain::service::ServiceParams
    created     TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id  BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    hash        BYTEA NOT NULL UNIQUE,    -- SHA-256 of the secret; the secret is never stored
    description TEXT NOT NULL,
    created     TEXT NOT NULL,
    expires_at  TEXT,
    last_used   TEXT,
    revoked_at  TEXT
);

CREATE TABLE users (
    pk                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id            BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    id                    TEXT NOT NULL UNIQUE,
    user_name             TEXT NOT NULL,
    user_name_key         TEXT NOT NULL,  -- case-folded login: one key for uniqueness and filters
    external_id           TEXT,
    active                BOOLEAN NOT NULL,
    status                TEXT NOT NULL,
    source                TEXT NOT NULL,
    activation_expires_at TEXT,
    email                 TEXT,
    email_key             TEXT,
    display_name          TEXT,
    display_name_key      TEXT,
    given_name            TEXT,
    family_name           TEXT,
    preferred_language    TEXT,
    attributes            TEXT NOT NULL,  -- every other SCIM attribute, verbatim JSON
    created               TEXT NOT NULL,
    last_modified         TEXT NOT NULL,
    version               BIGINT NOT NULL,
    UNIQUE (service_id, user_name_key)
);
CREATE INDEX users_external_id ON users (service_id, external_id);
CREATE INDEX users_email ON users (service_id, email_key);
CREATE INDEX users_display_name ON users (service_id, display_name_key);
CREATE INDEX users_created ON users (service_id, created);

-- One row per reason: a group deletion blocks 100,000 members with one INSERT … SELECT, and
-- concurrent writers add or remove reasons without rewriting each other's.
CREATE TABLE user_block_reasons (
    user_pk BIGINT NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
    reason  TEXT NOT NULL,
    PRIMARY KEY (user_pk, reason)
);
CREATE INDEX user_block_reasons_reason ON user_block_reasons (reason);

CREATE TABLE groups (
    pk               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id       BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    id               TEXT NOT NULL UNIQUE,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id      TEXT,
    attributes       TEXT NOT NULL,
    created          TEXT NOT NULL,
    last_modified    TEXT NOT NULL,
    version          BIGINT NOT NULL,
    UNIQUE (service_id, display_name_key)
);
CREATE INDEX groups_external_id ON groups (service_id, external_id);

-- Membership is a join table, never a JSON array: adds and removes are set operations.
CREATE TABLE group_members (
    group_pk BIGINT NOT NULL REFERENCES groups(pk) ON DELETE CASCADE,
    user_pk  BIGINT NOT NULL REFERENCES users(pk) ON DELETE CASCADE,
    display  TEXT,
    PRIMARY KEY (group_pk, user_pk)
);
CREATE INDEX group_members_user ON group_members (user_pk, group_pk);

-- What remains of a deleted group. Whom it blocks is the set of users holding the reason
-- 'groupDeleted:<group_id>'.
CREATE TABLE group_tombstones (
    group_id         TEXT PRIMARY KEY,
    service_id       BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id      TEXT,
    deleted          TEXT NOT NULL
);
CREATE INDEX group_tombstones_external_id ON group_tombstones (service_id, external_id);
CREATE INDEX group_tombstones_name ON group_tombstones (service_id, display_name_key);

CREATE TABLE provisioning_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id    BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
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
CREATE INDEX provisioning_log_service ON provisioning_log (service_id, id);
CREATE INDEX provisioning_log_resource ON provisioning_log (service_id, resource_id);
CREATE INDEX provisioning_log_time ON provisioning_log (time);

-- Activation codes: only the hash of the code is stored; one live code per user.
CREATE TABLE activation_codes (
    user_pk    BIGINT PRIMARY KEY REFERENCES users(pk) ON DELETE CASCADE,
    code_hash  BYTEA NOT NULL UNIQUE,
    expires_at TEXT NOT NULL,
    created    TEXT NOT NULL
);

-- Transactional outbox: an email is queued in the same transaction as the change that
-- causes it, and a worker delivers it. A worker leases the rows it claims (claimed_by,
-- claimed_until); a row is due when pending, next_attempt_at has passed and no lease holds.
-- The Message-ID is derived from id, so a retried row keeps its Message-ID.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id      BIGINT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    user_id         TEXT,                -- users.id the message is about (no FK: a sent row outlives its user)
    recipient       TEXT NOT NULL,
    template        TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,       -- pending | sent | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_by      TEXT,
    claimed_until   TEXT,
    last_error      TEXT,
    created         TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_user ON outbox (user_id, state);
