"""Headless Chromium driven through the DevTools protocol (websocket from aiohttp), for tests.

Loads a page from disk, collects everything that went wrong (uncaught exceptions, console
errors, failed loads), measures every image and video, and takes a full-page screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
]

MEASURE = """
(async () => {
  const vids = [...document.querySelectorAll('video')];
  await Promise.all(vids.map(v => v.readyState >= 1 ? null : new Promise(r => {
    v.addEventListener('loadedmetadata', r, {once: true});
    v.addEventListener('error', r, {once: true});
    setTimeout(r, 10000);
  })));
  return JSON.stringify({
    images: [...document.images].map(i => ({src: i.src.slice(0, 120), complete: i.complete,
      naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
      width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height})),
    videos: vids.map(v => ({src: v.currentSrc, readyState: v.readyState,
      error: v.error ? v.error.code : null, videoWidth: v.videoWidth,
      duration: v.duration})),
    h264: document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"'),
    links: [...document.querySelectorAll('a')].map(a => a.href),
    title: document.title,
  });
})()
"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    """What happened while loading a page."""

    errors: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    videos: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    h264: str = ""
    title: str = ""


class _Session:
    def __init__(self, ws: Any):
        self.ws = ws
        self.n = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self.n += 1
        ident = self.n
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), deadline - time.monotonic())
            if msg.get("id") == ident:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self.events.append(msg)

    async def wait_event(self, name: str, timeout: float = 30.0) -> None:
        if any(e.get("method") == name for e in self.events):
            return
        deadline = time.monotonic() + timeout
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), deadline - time.monotonic())
            self.events.append(msg)
            if msg.get("method") == name:
                return


async def _inspect(port: int, url: str, screenshot: Path | None, width: int) -> PageReport:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as r:
            target = await r.json(content_type=None)
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            s = _Session(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                await s.call(f"{domain}.enable")
            await s.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            await s.call("Page.navigate", url=url)
            await s.wait_event("Page.loadEventFired")
            res = await s.call("Runtime.evaluate", expression=MEASURE, awaitPromise=True)
            data = json.loads(res["result"]["value"])
            report = PageReport(
                images=data["images"],
                videos=data["videos"],
                links=data["links"],
                h264=data["h264"],
                title=data["title"],
            )
            for e in s.events:
                m, p = e.get("method"), e.get("params", {})
                if m == "Runtime.exceptionThrown":
                    report.errors.append(f"exception: {p['exceptionDetails'].get('text')}")
                elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                    report.errors.append(f"console: {p.get('args')}")
                elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                    report.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url')}")
                elif m == "Network.loadingFailed" and not p.get("canceled"):
                    report.errors.append(f"load failed: {p.get('errorText')}")
            if screenshot is not None:
                metrics = await s.call("Page.getLayoutMetrics")
                height = int(min(metrics["cssContentSize"]["height"], 12000))
                await s.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                shot = await s.call("Page.captureScreenshot", format="png")
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            return report


@contextlib.contextmanager
def chromium() -> Any:
    """A headless Chromium; yields a function ``inspect(path, screenshot=None) -> PageReport``."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="mocap3d-chromium-") as profile:
        proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not port_file.is_file() or not port_file.read_text().strip():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chromium did not start (no DevToolsActivePort)")
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])

            def inspect(
                path: Path, screenshot: Path | None = None, width: int = 1280
            ) -> PageReport:
                url = Path(path).resolve().as_uri()
                return asyncio.run(_inspect(port, url, screenshot, width))

            yield inspect
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
