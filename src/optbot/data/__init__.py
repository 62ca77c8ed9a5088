"""Market data: tick → bar aggregation, the JSON store, history, gaps, quality, importers."""
