"""Event-driven backtests on the same engine as live and paper trading (spec §11.5)."""

from optbot.backtest.report import BacktestResult, TradeRecord, build_report, write_backtest_report

__all__ = ["BacktestResult", "TradeRecord", "build_report", "write_backtest_report"]
