-- Need-to-know in the database: roles, parsed markings, row-level security, shared accounts.
--
-- Three group roles (cluster-wide, created if missing; logins are made members of them with
-- `watchfloor db role add-owner|add-writer|add-reader`):
--   watchfloor_owner   owns every watchfloor table: migrations (the admin's machine only);
--   watchfloor_writer  ingest and feeds: reads and writes every record, never the policies
--                      (it owns nothing, so it cannot ALTER, DROP or DISABLE anything);
--   watchfloor_reader  one login per dashboard instance, each with a row in
--                      watchfloor_reader_scopes (nation, clearance, administrators or not):
--                      row-level security shows it exactly what a viewer of that nation,
--                      clearance and role may see under layers/access/policy.py, even with
--                      raw SQL. A reader login without a scope row sees no record at all.
--
-- Every layer table gets `_mk_level` (the marking's level, 0..4; NULL: missing or unreadable)
-- and `_mk_rel` (the nations it is releasable to; NULL: all partners; '{}': nobody), filled on
-- write by the store from `marking` with ingest/markings.py's parser (the one the dashboard
-- uses), and re-derived for every row by `watchfloor db upgrade` (so after editing the site's
-- coalitions file, run it again). A row whose columns were never filled (written by hand)
-- counts as unreadable: administrators' instances only, as the dashboard treats it.
--
-- Later migrations that add a layer table call watchfloor_protect_layer('name'); upgrade
-- also calls it for every layer it knows, so no layer is ever left unprotected.

DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['watchfloor_owner', 'watchfloor_writer', 'watchfloor_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by an upgrade of another database of this cluster
            END;
        END IF;
    END LOOP;
    -- whoever upgrades is an owner (a superuser needs no membership); the owner creates in the schema
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT watchfloor_owner TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO watchfloor_owner', current_schema());
END $$;

-- Which scope each reader login has. Readers see their own row only.
CREATE TABLE watchfloor_reader_scopes (
    role_name name PRIMARY KEY,
    nation text NOT NULL,
    clearance text NOT NULL,
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 4),
    administrators boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE watchfloor_reader_scopes ENABLE ROW LEVEL SECURITY;
CREATE POLICY reader_own ON watchfloor_reader_scopes FOR SELECT TO watchfloor_reader
    USING (role_name = current_user);

-- The row test of the policy, as SQL text over a table alias `t` (see watchfloor_protect_layer):
-- the scope's columns come from uncorrelated subqueries, evaluated once per statement.
CREATE FUNCTION watchfloor_marking_test() RETURNS text LANGUAGE sql IMMUTABLE AS $f$
    SELECT 'CASE WHEN _mk_level IS NULL THEN coalesce((SELECT s.administrators FROM watchfloor_reader_scopes s '
        || 'WHERE s.role_name = current_user), false) '
        || 'ELSE _mk_level <= (SELECT s.level FROM watchfloor_reader_scopes s WHERE s.role_name = current_user) '
        || 'AND (_mk_rel IS NULL OR (SELECT s.nation FROM watchfloor_reader_scopes s '
        || 'WHERE s.role_name = current_user) = ANY (_mk_rel)) END'
$f$;

-- Marking columns, row-level security and grants for one table with a `marking` column.
-- Idempotent: upgrade calls it for every layer table after the migrations.
CREATE FUNCTION watchfloor_protect_layer(tbl regclass) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS _mk_level smallint, '
                   'ADD COLUMN IF NOT EXISTS _mk_rel text[]', tbl);
    EXECUTE format('ALTER TABLE %s OWNER TO watchfloor_owner', tbl);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS writer_all ON %s', tbl);
    EXECUTE format('CREATE POLICY writer_all ON %s FOR ALL TO watchfloor_writer USING (true) WITH CHECK (true)',
                   tbl);
    EXECUTE format('DROP POLICY IF EXISTS reader_scope ON %s', tbl);
    EXECUTE format('CREATE POLICY reader_scope ON %s FOR SELECT TO watchfloor_reader USING (%s)',
                   tbl, watchfloor_marking_test());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO watchfloor_writer', tbl);
    EXECUTE format('GRANT SELECT ON %s TO watchfloor_reader', tbl);
END
$f$;

SELECT watchfloor_protect_layer(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind = 'r'
  AND c.relname IN ('imagery', 'track_points', 'tracks', 'incidents', 'deployments', 'borders',
                    'disputed_areas', 'infrastructure', 'places');

-- Feed status carries its feed's marking (0002): the same test.
SELECT watchfloor_protect_layer('watchfloor_feeds');

-- The layer tables an alert subject may name ("layer/source/source_id").
CREATE TABLE watchfloor_layer_tables (name text PRIMARY KEY);
INSERT INTO watchfloor_layer_tables (name) VALUES ('imagery'), ('track_points'), ('tracks'), ('incidents'),
    ('deployments'), ('borders'), ('disputed_areas'), ('infrastructure'), ('places');

-- An alert is visible when it names at least one subject and every subject is a record the
-- caller may see (policy.restrict_alerts). SECURITY INVOKER: the subject tables' own policies
-- decide, as the caller. A subject that is not valid JSON text of a non-empty list of strings,
-- or names no known record, hides the alert.
CREATE FUNCTION watchfloor_subjects_visible(subjects text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $f$
DECLARE
    items jsonb;
    item jsonb;
    subject text;
    layer text;
    rest text;
    pos int;
    found boolean;
BEGIN
    IF subjects IS NULL THEN
        RETURN false;
    END IF;
    BEGIN
        items := subjects::jsonb;
    EXCEPTION WHEN others THEN
        RETURN false;
    END;
    IF jsonb_typeof(items) <> 'array' OR jsonb_array_length(items) = 0 THEN
        RETURN false;
    END IF;
    FOR item IN SELECT jsonb_array_elements(items) LOOP
        IF jsonb_typeof(item) <> 'string' THEN
            RETURN false;
        END IF;
        subject := item #>> '{}';
        layer := split_part(subject, '/', 1);
        IF strpos(subject, '/') = 0 OR NOT EXISTS (SELECT 1 FROM watchfloor_layer_tables WHERE name = layer) THEN
            RETURN false;
        END IF;
        rest := substr(subject, length(layer) + 2);
        found := false;
        -- a source may itself hold '/': try every split point, as policy._referenced_subjects does
        FOR pos IN SELECT p FROM generate_series(1, length(rest)) AS p WHERE substr(rest, p, 1) = '/' LOOP
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE source = $1 AND source_id = $2)', layer)
                INTO found USING substr(rest, 1, pos - 1), substr(rest, pos + 1);
            EXIT WHEN found;
        END LOOP;
        IF NOT found THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$f$;

ALTER TABLE watchfloor_alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY writer_all ON watchfloor_alerts FOR ALL TO watchfloor_writer USING (true) WITH CHECK (true);
CREATE POLICY reader_subjects ON watchfloor_alerts FOR SELECT TO watchfloor_reader
    USING (watchfloor_subjects_visible(subjects));

-- Acknowledgements of the alerts one may see; a dashboard (reader) may acknowledge those.
ALTER TABLE watchfloor_alert_acks ENABLE ROW LEVEL SECURITY;
CREATE POLICY writer_all ON watchfloor_alert_acks FOR ALL TO watchfloor_writer USING (true) WITH CHECK (true);
CREATE POLICY reader_read ON watchfloor_alert_acks FOR SELECT TO watchfloor_reader
    USING (EXISTS (SELECT 1 FROM watchfloor_alerts a WHERE a.key = watchfloor_alert_acks.key));
CREATE POLICY reader_ack ON watchfloor_alert_acks FOR INSERT TO watchfloor_reader
    WITH CHECK (EXISTS (SELECT 1 FROM watchfloor_alerts a WHERE a.key = watchfloor_alert_acks.key));

-- Quarantined records were never checked for markings: administrators' instances only.
ALTER TABLE watchfloor_quarantine ENABLE ROW LEVEL SECURITY;
CREATE POLICY writer_all ON watchfloor_quarantine FOR ALL TO watchfloor_writer USING (true) WITH CHECK (true);
CREATE POLICY reader_admins ON watchfloor_quarantine FOR SELECT TO watchfloor_reader
    USING (coalesce((SELECT s.administrators FROM watchfloor_reader_scopes s WHERE s.role_name = current_user),
                    false));

-- Accounts and wall displays, shared by every dashboard machine (layers/access/directory.py).
CREATE TABLE watchfloor_users (
    username text PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    nation text NOT NULL,
    clearance text NOT NULL,
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 4),
    role text NOT NULL CHECK (role IN ('viewer', 'analyst', 'administrator')),
    password_hash text NOT NULL,
    disabled boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE watchfloor_kiosks (
    name text PRIMARY KEY,
    nation text NOT NULL,
    clearance text NOT NULL,
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 4),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    created_by text NOT NULL DEFAULT '',
    enrol_code_hash text,
    enrol_expires_at timestamptz,
    token_hash text,
    revoked_at timestamptz
);
-- A reader (a dashboard instance) reads only the accounts and displays it can fully serve: of
-- its nation, cleared no higher than its scope, administrators only on an administrators'
-- instance. So a reader credential exposes the password hashes of nobody who could not sign in
-- there anyway. It may record a display's enrolment (the dashboard's /kiosk/enrol), nothing else.
ALTER TABLE watchfloor_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE watchfloor_kiosks ENABLE ROW LEVEL SECURITY;
CREATE POLICY reader_served ON watchfloor_users FOR SELECT TO watchfloor_reader USING (
    nation = (SELECT s.nation FROM watchfloor_reader_scopes s WHERE s.role_name = current_user)
    AND level <= (SELECT s.level FROM watchfloor_reader_scopes s WHERE s.role_name = current_user)
    AND (role <> 'administrator'
         OR coalesce((SELECT s.administrators FROM watchfloor_reader_scopes s WHERE s.role_name = current_user),
                     false)));
CREATE POLICY reader_served ON watchfloor_kiosks FOR SELECT TO watchfloor_reader USING (
    nation = (SELECT s.nation FROM watchfloor_reader_scopes s WHERE s.role_name = current_user)
    AND level <= (SELECT s.level FROM watchfloor_reader_scopes s WHERE s.role_name = current_user));
CREATE POLICY reader_enrol ON watchfloor_kiosks FOR UPDATE TO watchfloor_reader USING (
    nation = (SELECT s.nation FROM watchfloor_reader_scopes s WHERE s.role_name = current_user)
    AND level <= (SELECT s.level FROM watchfloor_reader_scopes s WHERE s.role_name = current_user));
-- Writers (feed runners, `watchfloor export --user`) sign people in too; they change nothing.
CREATE POLICY writer_read ON watchfloor_users FOR SELECT TO watchfloor_writer USING (true);
CREATE POLICY writer_read ON watchfloor_kiosks FOR SELECT TO watchfloor_writer USING (true);

-- Ownership and grants. The owner bypasses row-level security (it is the table owner):
-- administration (accounts, displays, migrations) is done with an owner credential.
ALTER TABLE watchfloor_reader_scopes OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_layer_tables OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_alerts OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_alert_acks OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_quarantine OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_versions OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_migrations OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_users OWNER TO watchfloor_owner;
ALTER TABLE watchfloor_kiosks OWNER TO watchfloor_owner;
ALTER FUNCTION watchfloor_subjects_visible(text) OWNER TO watchfloor_owner;
ALTER FUNCTION watchfloor_protect_layer(regclass) OWNER TO watchfloor_owner;
ALTER FUNCTION watchfloor_marking_test() OWNER TO watchfloor_owner;

GRANT SELECT, INSERT, UPDATE, DELETE ON watchfloor_alerts, watchfloor_alert_acks, watchfloor_quarantine,
    watchfloor_versions TO watchfloor_writer;
GRANT SELECT ON watchfloor_migrations, watchfloor_layer_tables, watchfloor_users, watchfloor_kiosks
    TO watchfloor_writer;
GRANT SELECT ON watchfloor_alerts, watchfloor_alert_acks, watchfloor_quarantine, watchfloor_migrations,
    watchfloor_layer_tables, watchfloor_reader_scopes, watchfloor_users, watchfloor_kiosks TO watchfloor_reader;
GRANT INSERT ON watchfloor_alert_acks TO watchfloor_reader;
GRANT UPDATE (enrol_code_hash, enrol_expires_at, token_hash) ON watchfloor_kiosks TO watchfloor_reader;
-- A dashboard stores the restricted zones its analysts draw (layers/zones.py: infrastructure records
-- of kind restricted_zone), marked so that its own scope may see them; nothing else.
GRANT INSERT, UPDATE ON infrastructure TO watchfloor_reader;
DO $$
BEGIN
    EXECUTE format('CREATE POLICY reader_zone_insert ON infrastructure FOR INSERT TO watchfloor_reader '
                   'WITH CHECK (kind = %L AND %s)', 'restricted_zone', watchfloor_marking_test());
    EXECUTE format('CREATE POLICY reader_zone_update ON infrastructure FOR UPDATE TO watchfloor_reader '
                   'USING (kind = %L AND %s) WITH CHECK (kind = %L AND %s)', 'restricted_zone',
                   watchfloor_marking_test(), 'restricted_zone', watchfloor_marking_test());
END $$;
-- Every process bumps the change counters of what it wrote (Store.version).
GRANT SELECT, INSERT, UPDATE ON watchfloor_versions TO watchfloor_reader;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO watchfloor_writer, watchfloor_reader', current_schema());
END $$;
