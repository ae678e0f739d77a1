#!/usr/bin/env python3
"""Open HTML reports in headless Chromium; fail on any console error or any request.

Usage: check_html.py REPORT.html... [--screenshots DIR] [--width PX] [--max-height PX]
                     [--chromium PATH]

A report must be one self-contained page: it loads with no JavaScript error, no console error
and no network request at all besides the page itself (no font, script, image or style fetched,
not even one that would fail offline). Each page is loaded in a fresh headless Chromium, driven
over the DevTools protocol on a pipe (`--remote-debugging-pipe`), so only the standard library
is needed. With --screenshots, a PNG of each page (its top --max-height pixels at --width) is
written to DIR under the report's name: `demo.html` -> `DIR/demo.png`.

Exit codes: 0 every page clean; 1 a page logged an error or made a request; 2 bad arguments or
Chromium could not run (one line on stderr).

Chromium: Debian's `chromium` package (`apt-get install chromium`); `.ci/run` installs it.
"""

import argparse
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One page must load well within this; a hang is reported, not waited out.
LOAD_TIMEOUT_S = 60.0


class CdpError(Exception):
    """Chromium did not answer as the protocol says: exit 2."""


class Browser:
    """A headless Chromium with the DevTools protocol on fds 3 (to it) and 4 (from it)."""

    def __init__(self, exe: str, profile: Path):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--no-first-run",
                "--disable-extensions", "--disable-sync", "--no-default-browser-check",
                "--hide-scrollbars", "--mute-audio",
                f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]

        def child_fds():
            # Out of the way first, so that neither end is overwritten by the other's dup2.
            high_r = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=child_fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # pass_fds keeps 3 and 4 open in the child after preexec_fn set them.
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def close(self):
        for fd in (self.to_w, self.from_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise CdpError("Chromium did not answer in time")
            chunk = os.read(self.from_r, 1 << 16)
            if not chunk:
                raise CdpError("Chromium closed the DevTools pipe (did it start?)")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = LOAD_TIMEOUT_S) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float = LOAD_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            e = self._read_message(deadline)
            if e.get("method") == method and e.get("sessionId") == session:
                return e
            self.events.append(e)


def problems_of(events: list[dict], session: str, page_url: str) -> list[str]:
    """Console errors, exceptions, and every request other than the page itself."""
    found = []
    for e in events:
        if e.get("sessionId") != session:
            continue
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            found.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            found.append(f"console.{p.get('type')}: {text}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            entry = p["entry"]
            found.append(f"{entry.get('source')} {entry.get('level')}: {entry.get('text')} "
                         f"{entry.get('url', '')}".rstrip())
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if url != page_url:
                found.append(f"request: {url}")
        elif method == "Network.loadingFailed":
            found.append(f"failed request: {p.get('errorText')} ({p.get('requestId')})")
    return found


def check_page(browser: Browser, path: Path, width: int, max_height: int,
               screenshot: Path | None) -> list[str]:
    url = path.resolve().as_uri()
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                 session=session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired", session)
    # Let late console messages and requests arrive.
    browser.send("Runtime.evaluate", {"expression": "document.readyState"}, session=session)
    found = problems_of(browser.events, session, url)
    title = browser.send("Runtime.evaluate", {"expression": "document.title"},
                         session=session)["result"].get("value", "")
    if not title:
        found.append("the page has no <title>")
    if screenshot is not None:
        metrics = browser.send("Page.getLayoutMetrics", session=session)
        height = int(metrics.get("cssContentSize", metrics.get("contentSize"))["height"])
        height = max(1, min(height, max_height))
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1,
                      "mobile": False}, session=session)
        shot = browser.send("Page.captureScreenshot",
                            {"format": "png",
                             "clip": {"x": 0, "y": 0, "width": width, "height": height,
                                      "scale": 1}},
                            session=session)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    browser.send("Target.closeTarget", {"targetId": target})
    return found


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("reports", nargs="+", type=Path, help="HTML files to open")
    p.add_argument("--screenshots", type=Path, metavar="DIR",
                   help="write a PNG of each page into DIR")
    p.add_argument("--width", type=int, default=1280, help="viewport width (default 1280)")
    p.add_argument("--max-height", type=int, default=2400,
                   help="screenshot at most this many pixels from the top (default 2400)")
    p.add_argument("--chromium", default=None,
                   help="Chromium binary (default: chromium, then chromium-browser on PATH)")
    args = p.parse_args(argv)
    exe = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        print("error: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    for r in args.reports:
        if not r.is_file():
            print(f"error: {r}: no such file", file=sys.stderr)
            return 2
    if args.screenshots:
        if not args.screenshots.is_dir():
            print(f"error: --screenshots {args.screenshots}: not a folder", file=sys.stderr)
            return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="check-html-") as profile:
        browser = Browser(exe, Path(profile))
        try:
            for report in args.reports:
                shot = args.screenshots / f"{report.stem}.png" if args.screenshots else None
                found = check_page(browser, report, args.width, args.max_height, shot)
                if found:
                    failed += 1
                    print(f"FAIL {report}")
                    for f in found:
                        print(f"  {f}")
                else:
                    print(f"ok   {report}" + (f" -> {shot}" if shot else ""))
        except CdpError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        finally:
            browser.close()
    print(f"checked {len(args.reports)} report(s): {len(args.reports) - failed} clean, "
          f"{failed} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
