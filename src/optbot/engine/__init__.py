"""The engine: one wiring of clock, data, strategies, risk, orders and portfolio for every mode."""
