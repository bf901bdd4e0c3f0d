-- TAK drawings (CoT u-d-*, b-m-r, u-rb-a) as shapes: the `overlays` layer of ingest/schema.py.
CREATE TABLE "overlays" (
    "source" text NOT NULL,
    "source_id" text NOT NULL,
    "ingested_at" timestamptz NOT NULL,
    "marking" text,
    "drawn_at" timestamptz,
    "kind" text,
    "label" text,
    "cot_type" text,
    "sender_uid" text,
    "stroke_color" text,
    "fill_color" text,
    "geofence" boolean,
    "geofence_trigger" text,
    "geofence_monitor" text,
    "remarks" text,
    "stale_at" timestamptz,
    "geometry_fix" text,
    "geometry" geometry CONSTRAINT "overlays_geometry_srid" CHECK (ST_SRID("geometry") = 4326),
    "_version" timestamptz NOT NULL,
    "_hash" text NOT NULL,
    PRIMARY KEY ("source", "source_id")
);
CREATE INDEX "overlays_geometry_gist" ON "overlays" USING gist ("geometry");
CREATE INDEX "overlays_drawn_at_idx" ON "overlays" ("drawn_at");
