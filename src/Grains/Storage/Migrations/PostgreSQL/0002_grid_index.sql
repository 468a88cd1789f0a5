-- The queryable index behind GET /integrations and GET /connections. Grain state stays the source of truth;
-- these rows hold nothing secret and are rewritten on every state change. Times are ISO 8601 UTC text, as on SQLite,
-- so the grid's SQL reads them back the same way on both engines.

CREATE TABLE IF NOT EXISTS cg_integrations
(
    tenant_id    TEXT NOT NULL,
    unique_key   TEXT NOT NULL,
    provider     TEXT NOT NULL,
    display_name TEXT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, unique_key)
);

CREATE TABLE IF NOT EXISTS cg_connections
(
    internal_id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          TEXT    NOT NULL,
    integration_key    TEXT    NOT NULL,
    connection_id      TEXT    NOT NULL,
    provider           TEXT    NOT NULL,
    status             INTEGER NOT NULL,
    end_user_id        TEXT    NULL,
    end_user_json      TEXT    NULL,
    metadata_json      TEXT    NOT NULL,
    tags_json          TEXT    NOT NULL,
    reauth_required_by TEXT    NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    UNIQUE (tenant_id, integration_key, connection_id)
);

CREATE INDEX IF NOT EXISTS ix_cg_connections_tenant ON cg_connections (tenant_id, internal_id);
CREATE INDEX IF NOT EXISTS ix_cg_connections_end_user ON cg_connections (tenant_id, end_user_id);
