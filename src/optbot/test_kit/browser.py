"""Headless Debian Chromium for page tests (dashboard, reports, tearsheets), driven by Playwright.

The flags keep Chromium off the network (this machine has none but loopback) and out of the sandbox
(tests run as root in CI)."""

from __future__ import annotations

import shutil

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
