-- omadm server schema, PostgreSQL. Times are Unix milliseconds; JSON columns hold the records' nested parts.
CREATE TABLE devices (
    dev_id          TEXT PRIMARY KEY,
    server_id       TEXT NOT NULL,
    client_auth     TEXT NOT NULL,
    client_user     TEXT NOT NULL,
    client_secret   TEXT NOT NULL,
    client_nonce    TEXT NOT NULL,
    client_spent    TEXT NOT NULL DEFAULT '',
    server_auth     TEXT NOT NULL,
    server_user     TEXT NOT NULL,
    server_secret   TEXT NOT NULL,
    server_nonce    TEXT NOT NULL,
    devinfo         TEXT NOT NULL DEFAULT '{}',
    created_ms      BIGINT NOT NULL,
    last_session_ms BIGINT
);
CREATE TABLE device_groups (
    name   TEXT NOT NULL,
    dev_id TEXT NOT NULL REFERENCES devices(dev_id) ON DELETE CASCADE,
    PRIMARY KEY (name, dev_id)
);
CREATE TABLE sessions (
    token      TEXT PRIMARY KEY,
    dev_id     TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX sessions_updated ON sessions (updated_ms);
CREATE TABLE jobs (
    id         BIGSERIAL PRIMARY KEY,
    dev_id     TEXT NOT NULL REFERENCES devices(dev_id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    commands   TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX jobs_device_state ON jobs (dev_id, state);
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    dev_id      TEXT NOT NULL,
    code        BIGINT NOT NULL,
    media_type  TEXT,
    format      TEXT,
    mark        TEXT,
    source      TEXT,
    correlator  TEXT,
    data        TEXT NOT NULL,
    received_ms BIGINT NOT NULL
);
CREATE INDEX events_device ON events (dev_id, id);
CREATE TABLE tree_values (
    dev_id     TEXT NOT NULL REFERENCES devices(dev_id) ON DELETE CASCADE,
    uri        TEXT NOT NULL,
    format     TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (dev_id, uri)
);
