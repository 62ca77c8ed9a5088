"""Event-driven backtests on the same engine as live and paper trading (spec §11.5)."""

from optbot.backtest.quotes import BarQuoteSource
from optbot.backtest.report import BacktestResult, TradeRecord, build_report, write_backtest_report

__all__ = ["BacktestResult", "BarQuoteSource", "TradeRecord", "build_report", "write_backtest_report"]
