-- watchfloor PostGIS store, schema version 1.
--
-- One table per layer (columns from ingest/schema.py, in its order), keyed by
-- (source, source_id); `_version` orders versions of a record (its version
-- column, else its time column, else ingested_at) and `_hash` is the content
-- hash without ingested_at, exactly as in the embedded store. Internal tables
-- are prefixed watchfloor_. Geometry columns are `geometry` with a CHECK on SRID
-- 4326 rather than geometry(Geometry, 4326): that type modifier refuses 3D
-- coordinates (KML and CoT altitudes), which the embedded store keeps. Applied by `watchfloor db upgrade` in one
-- transaction; never edit a migration once released: add the next one.

CREATE EXTENSION IF NOT EXISTS postgis;

-- Imagery footprints: One row per scene: the footprint of its valid data.
CREATE TABLE "imagery" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "acquired_at" timestamptz,
    "collection" text,
    "platform" text,
    "constellation" text,
    "cloud_cover" double precision,
    "gsd" double precision,
    "thumbnail" text,
    "native_crs" text,
    "quicklook" text,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "imagery_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "imagery_geometry_gist" ON "imagery" USING gist ("geometry");
CREATE INDEX "imagery_acquired_at_idx" ON "imagery" ("acquired_at");

-- Track points: Raw fixes as received.
CREATE TABLE "track_points" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "track_id" text,
    "time" timestamptz,
    "altitude_m" double precision,
    "speed_mps" double precision,
    "heading_deg" double precision,
    "callsign" text,
    "platform_type" text,
    "stale_at" timestamptz,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "track_points_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "track_points_geometry_gist" ON "track_points" USING gist ("geometry");
CREATE INDEX "track_points_time_idx" ON "track_points" ("time");
CREATE INDEX "track_points_track_id_idx" ON "track_points" ("track_id", "time");

-- Tracks: Derived: one row per track, its path as a line (a point if it has one fix).
CREATE TABLE "tracks" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "track_id" text,
    "first_seen" timestamptz,
    "last_seen" timestamptz,
    "point_count" bigint,
    "last_lon" double precision,
    "last_lat" double precision,
    "last_altitude_m" double precision,
    "last_speed_mps" double precision,
    "last_heading_deg" double precision,
    "callsign" text,
    "platform_type" text,
    "stale_at" timestamptz,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "tracks_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "tracks_geometry_gist" ON "tracks" USING gist ("geometry");
CREATE INDEX "tracks_first_seen_idx" ON "tracks" ("first_seen");
CREATE INDEX "tracks_last_seen_idx" ON "tracks" ("last_seen");

-- Incidents
CREATE TABLE "incidents" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "occurred_at" timestamptz,
    "category" text,
    "subcategory" text,
    "severity" text,
    "status" text,
    "title" text,
    "description" text,
    "actors" text,
    "location_name" text,
    "fatalities" bigint,
    "updated_at" timestamptz,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "incidents_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "incidents_geometry_gist" ON "incidents" USING gist ("geometry");
CREATE INDEX "incidents_occurred_at_idx" ON "incidents" ("occurred_at");

-- Partner deployments: Geometry is the unit's position; `area` its area of responsibility.
CREATE TABLE "deployments" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "nation" text,
    "unit_name" text,
    "unit_type" text,
    "echelon" text,
    "strength" bigint,
    "symbol_code" text,
    "reported_at" timestamptz,
    "stale_at" timestamptz,
    "area" geometry CONSTRAINT "deployments_area_srid" CHECK (ST_SRID("area") = 4326),
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "deployments_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "deployments_geometry_gist" ON "deployments" USING gist ("geometry");
CREATE INDEX "deployments_area_gist" ON "deployments" USING gist ("area");
CREATE INDEX "deployments_reported_at_idx" ON "deployments" ("reported_at");

-- Borders
CREATE TABLE "borders" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "country_code" text,
    "name" text,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "borders_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "borders_geometry_gist" ON "borders" USING gist ("geometry");

-- Disputed areas
CREATE TABLE "disputed_areas" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "name" text,
    "claimants" text,
    "note" text,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "disputed_areas_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "disputed_areas_geometry_gist" ON "disputed_areas" USING gist ("geometry");

-- Critical infrastructure
CREATE TABLE "infrastructure" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "kind" text,
    "name" text,
    "subkind" text,
    "country_code" text,
    "capacity" double precision,
    "code" text,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "infrastructure_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "infrastructure_geometry_gist" ON "infrastructure" USING gist ("geometry");

-- Populated places
CREATE TABLE "places" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "name" text,
    "country_code" text,
    "population" bigint,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "places_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "places_geometry_gist" ON "places" USING gist ("geometry");

-- Records that could not be stored, once each (qkey: hash of layer, source, source_id, reason, raw).
CREATE TABLE watchfloor_quarantine (
    qkey text PRIMARY KEY,
    layer text,
    source text,
    source_id text,
    reason text,
    detail text,
    raw text,
    quarantined_at timestamptz
);
CREATE INDEX watchfloor_quarantine_at_idx ON watchfloor_quarantine (quarantined_at DESC);
CREATE INDEX watchfloor_quarantine_layer_idx ON watchfloor_quarantine (layer, source);

-- The latest status of each live feed (ingest.store.base.FeedStatus).
CREATE TABLE watchfloor_feeds (
    feed text PRIMARY KEY,
    kind text,
    state text,
    last_attempt timestamptz,
    last_success timestamptz,
    last_error text,
    consecutive_failures bigint,
    records_last bigint,
    quarantined_last bigint,
    interval_s double precision,
    next_attempt timestamptz
);

-- Alerts by key: the finding as last seen, when first and last seen, and whether the
-- condition is live (status 'open') or not ('resolved').
CREATE TABLE watchfloor_alerts (
    key text PRIMARY KEY,
    rule text NOT NULL,
    severity text NOT NULL,
    "time" timestamptz NOT NULL,
    subjects text,
    message text,
    details text,
    geometry geometry CONSTRAINT watchfloor_alerts_geometry_srid CHECK (ST_SRID(geometry) = 4326),
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'resolved')),
    content_hash text NOT NULL
);
CREATE INDEX watchfloor_alerts_time_idx ON watchfloor_alerts ("time" DESC, key);
CREATE INDEX watchfloor_alerts_rule_idx ON watchfloor_alerts (rule, status);

-- Acknowledgements, apart from the alerts so that no refresh of an alert can
-- overwrite one: insert-only (ON CONFLICT DO NOTHING), the first one wins.
CREATE TABLE watchfloor_alert_acks (
    key text PRIMARY KEY,
    acknowledged_by text NOT NULL,
    acknowledged_at timestamptz NOT NULL
);

-- One row per table that changed: `version` is bumped in the same transaction as
-- every write that changed something, so Store.version is one indexed lookup.
CREATE TABLE watchfloor_versions (
    name text PRIMARY KEY,
    version bigint NOT NULL,
    changed_at timestamptz NOT NULL
);
