-- framework-advisor schema, version 1. Applied once, in a transaction, by
-- the binary at start (src/storage/postgres.rs); never edit a released file:
-- add 0002_*.sql instead.

-- One row per consultation: the record (JSON envelope with its schema
-- version) and the version every change bumps (optimistic concurrency).
CREATE TABLE fa_sessions (
    id      text   PRIMARY KEY,
    version bigint NOT NULL,
    body    bytea  NOT NULL
);

-- (owner, scope) -> the session in progress.
CREATE TABLE fa_active (
    owner text NOT NULL,
    scope text NOT NULL,
    id    text NOT NULL,
    PRIMARY KEY (owner, scope)
);

-- owner -> every session they have ("forget me").
CREATE TABLE fa_owner_sessions (
    owner text NOT NULL,
    id    text NOT NULL,
    scope text NOT NULL,
    PRIMARY KEY (owner, id)
);

-- The sweep's index: kind ('p' private, 't' team as a number), last touch.
CREATE TABLE fa_expiry (
    kind    smallint NOT NULL,
    touched bigint   NOT NULL,
    id      text     NOT NULL,
    PRIMARY KEY (kind, touched, id)
);

-- Sharded counters: one row per (name, shard), summed on read, so
-- concurrent changes of different sessions do not wait on one row.
CREATE TABLE fa_counters (
    name  text     NOT NULL,
    shard smallint NOT NULL,
    value bigint   NOT NULL,
    PRIMARY KEY (name, shard)
);

-- Small named values: the registered commands' hash, leases.
CREATE TABLE fa_meta (
    key   text  PRIMARY KEY,
    value bytea NOT NULL
);
