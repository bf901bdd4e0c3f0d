"""The map, both renderers and what they share.

- `deck/`: the pydeck (deck.gl) map of the Operations, Commander and Analyst pages, one module
  per layer (`build_deck`, `build_layers`, `MAP_LAYERS`);
- `leaflet/`: the analyst's folium (Leaflet) map, for drawing an area of interest and measuring;
- `icons/`: infrastructure icons (Maki SVGs) and unit symbols (`icons/symbols.py`, milsymbol).

Both maps take the same colours from `layers.style` and escape feed text with
`layers.map.deck.base.escape`. A new map layer: a module in `deck/` (and its features in
`leaflet/overlays.py` if the analyst's map should show it too).
"""
