"""Fixtures, stubs and builders shared by tests (NautilusTrader-style test kit)."""
