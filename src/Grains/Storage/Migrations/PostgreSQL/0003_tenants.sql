-- The tenants the operator API lists; the tenant grain's state stays the source of truth. Nothing secret here.

CREATE TABLE IF NOT EXISTS cg_tenants
(
    tenant_id    TEXT COLLATE "C" NOT NULL PRIMARY KEY, -- listed in byte order, as on SQLite
    display_name TEXT NULL,
    created_at   TEXT NOT NULL
);
