"""FastAPI dashboard app: read-only views for the viewer role, the kill switch for the operator role."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import orjson
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from optbot.config.sections.dashboard import DashboardSettings
from optbot.ops.dashboard.provider import DashboardProvider

Role = Literal["viewer", "operator"]
TOKEN_COOKIE = "optbot_dashboard_token"


@dataclass(frozen=True)
class DashboardAuth:
    viewer_token: str = ""
    operator_token: str = ""

    def role_for(self, token: str) -> Role | None:
        if self.operator_token and hmac.compare_digest(token, self.operator_token):
            return "operator"
        if self.viewer_token and hmac.compare_digest(token, self.viewer_token):
            return "viewer"
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: DashboardSettings, auth: DashboardAuth) -> None:
    """Refuse to serve anonymously anywhere but loopback."""
    if not is_loopback(settings.host) and not (auth.viewer_token and auth.operator_token):
        raise ValueError(
            f"dashboard.host: binding to {settings.host} needs both viewer and operator tokens "
            "(OPTBOT_SECRET_DASHBOARD_VIEWER_TOKEN, OPTBOT_SECRET_DASHBOARD_OPERATOR_TOKEN)"
        )


class KillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=200)
    confirm: Literal[True]


def _json(data: object) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def create_app(provider: DashboardProvider, settings: DashboardSettings, auth: DashboardAuth) -> FastAPI:
    check_exposure(settings, auth)
    app = FastAPI(title="optbot dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    anonymous_allowed = settings.allow_anonymous_loopback and is_loopback(settings.host)

    def presented_token(request: Request) -> str:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE, "")

    def viewer(request: Request) -> Role:
        token = presented_token(request)
        role = auth.role_for(token) if token else None
        if role is not None:
            return role
        if anonymous_allowed and not token:
            return "viewer"
        raise HTTPException(status_code=401, detail="a valid dashboard token is required")

    def operator(request: Request) -> Role:
        token = presented_token(request)
        if token and auth.role_for(token) == "operator":
            return "operator"
        raise HTTPException(status_code=403, detail="the kill switch needs the operator token")

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, role: Role = Depends(viewer)) -> HTMLResponse:
        page = resources.files("optbot.ops.dashboard").joinpath("index.html").read_text(encoding="utf-8")
        response = HTMLResponse(page)
        token = request.query_params.get("token")
        if token and auth.role_for(token):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"ok": True})

    # Handlers that read the provider are `async def`: they run on the engine's event loop thread,
    # between engine steps, never concurrently with it in a worker thread.
    @app.get("/api/snapshot")
    async def snapshot(role: Role = Depends(viewer)) -> Response:
        return _json({"role": role, **asdict(provider.snapshot())})

    @app.get("/api/stream")
    async def stream(request: Request, role: Role = Depends(viewer)) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            while not await request.is_disconnected():
                payload = orjson.dumps({"role": role, **asdict(provider.snapshot())})
                yield b"event: snapshot\ndata: " + payload + b"\n\n"
                await asyncio.sleep(settings.refresh_seconds)

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.post("/api/kill-switch")
    async def kill_switch(body: KillRequest, role: Role = Depends(operator)) -> Response:
        outcome = await provider.kill_switch(body.reason, actor=role)
        return _json({"ok": True, "outcome": outcome})

    @app.get("/api/reports")
    async def reports(role: Role = Depends(viewer)) -> Response:
        return _json([{"name": path.name, "size": path.stat().st_size} for path in provider.report_files()])

    @app.get("/reports/{name}")
    def report(name: str, role: Role = Depends(viewer)) -> FileResponse:
        allowed = {path.name: path for path in provider.report_files()}
        if name not in allowed or Path(name).name != name:
            raise HTTPException(status_code=404, detail="no such report")
        return FileResponse(allowed[name])

    return app
