"""Instrument master, option chains, strike selection and token pools (spec §3)."""
