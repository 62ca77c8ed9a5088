"""The web dashboard: a FastAPI app over a `DashboardProvider` the engine implements."""

from optbot.ops.dashboard.app import DashboardAuth, create_app
from optbot.ops.dashboard.provider import DashboardProvider, DashboardSnapshot
from optbot.ops.dashboard.server import DashboardServer

__all__ = ["DashboardAuth", "DashboardProvider", "DashboardServer", "DashboardSnapshot", "create_app"]
