-- Geodesic searches in the database (ingest/store/analysis.py): ST_DWithin on geography finds the
-- incidents near a facility or a unit, and the fixes near a loitering target, through these indexes
-- (the planner matches the expression "geometry::geography" of the queries).
CREATE INDEX "incidents_geography_gist" ON "incidents" USING gist (("geometry"::geography));
CREATE INDEX "infrastructure_geography_gist" ON "infrastructure" USING gist (("geometry"::geography));
CREATE INDEX "deployments_geography_gist" ON "deployments" USING gist (("geometry"::geography));
