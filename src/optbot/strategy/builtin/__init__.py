"""Built-in strategies: the spec's default `adx_trend` and the §10.6 matrix strategies."""
