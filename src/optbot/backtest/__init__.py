"""Event-driven backtests on the same engine as live and paper trading (spec §11.5).

Nothing is imported here, so `optbot backtest` can check its arguments before loading the engine.
"""
