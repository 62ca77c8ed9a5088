"""optbot: automated NSE index-options trading on Angel One SmartAPI."""

__version__ = "0.1.0"
