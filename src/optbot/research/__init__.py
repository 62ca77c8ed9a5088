"""The research suite (spec §11.5, §11.8, §11.9): optimisation, walk-forward, Monte Carlo, stress tests,
bias checks and tearsheets, all driving backtests of the one engine."""
