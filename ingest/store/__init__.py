"""Open the configured store: embedded (default) or PostGIS (`WATCHFLOOR_STORE=postgresql://...`)."""

from __future__ import annotations

from ingest import config
from ingest.errors import ConfigError
from ingest.store.base import BBox, LayerStats, Store, WriteReport


def open_store(url: str | None = None) -> Store:
    url = url if url is not None else config.store_url()
    if not url:
        from ingest.store.delta import DeltaStore

        return DeltaStore(config.home() / "store")
    if url.startswith(("postgresql://", "postgres://")):
        from ingest.store.postgis import PostGISStore

        return PostGISStore(url)
    if url.startswith("file://") or "://" not in url:
        from ingest.store.delta import DeltaStore

        return DeltaStore(url.removeprefix("file://"))
    raise ConfigError("WATCHFLOOR_STORE", "unset, a folder path, or postgresql://...", url.split("@")[-1])


__all__ = ["BBox", "LayerStats", "Store", "WriteReport", "open_store"]
