"""End-to-end: `dermaplan serve` in a process of its own over a demo clinic (made by
`dermaplan init` and `dermaplan demo seed`, as the README's newcomer makes it), driven by
Debian's Chromium through Playwright. One browser serves the whole run; each test has its
own context (cookies), and fails if a page breaks its Content-Security-Policy.

Browsers cannot be downloaded here, so Playwright never installs one: it launches
/usr/bin/chromium (scripts/services.sh installs it). Without it the tests are skipped with
the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from tests.conftest import ROOT

from dermaplan.records.logins import TOTP_STEP_SECONDS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
AXE = Path(__file__).parent / "axe" / "axe.min.js"
AXE_URL = "/static/axe.min.js"  # served to the page from its own origin by the tests alone
DEMO_PATIENTS = 30


@dataclass(frozen=True)
class Demo:
    url: str
    password: str
    logins: dict[str, str]  # name: login
    totp: dict[str, str]  # login: secret
    patients: list[dict[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # runs dermaplan over the demo's records


# the last time step whose code a test of this process typed, by TOTP secret
_TYPED_STEP: dict[str, int] = {}


def unused_code(secret: str) -> str:
    """A code the member's authenticator shows that no test has typed yet: now's, else the
    next step's (the server takes a step either side, each code once). Two tests signing
    the same member in within one step were refused the second time, as a person typing a
    code twice would be; a third waits for the step to turn."""
    totp = pyotp.TOTP(secret)
    while True:
        now = time.time()
        step = int(now) // TOTP_STEP_SECONDS
        wanted = max(step, _TYPED_STEP.get(secret, step - 1) + 1)
        if wanted <= step + 1:
            _TYPED_STEP[secret] = wanted
            return totp.at(wanted * TOTP_STEP_SECONDS)
        time.sleep((step + 1) * TOTP_STEP_SECONDS - now + 0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _dermaplan(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dermaplan", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _demo_members(printed: str) -> tuple[str, dict[str, str], dict[str, str]]:
    password = re.search(r"the demo password '([^']+)'", printed)
    assert password, printed
    logins, secrets = {}, {}
    for line in printed.splitlines():
        member = re.match(r"\s+\w+\s+(\S+)\s+(.+?)(?:\s+TOTP secret (\w+))?$", line)
        if member and "." in member.group(1):
            logins[member.group(2)] = member.group(1)
            if member.group(3):
                secrets[member.group(1)] = member.group(3)
    return password.group(1), logins, secrets


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests share one demo server and one Chromium: under pytest-xdist they run
    in one worker (`--dist loadgroup`), which starts them once."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo clinic served on a free port of this machine, for the whole run."""
    home = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMAPLAN_")}
    env |= {"DERMAPLAN_HOME": str(home), "DERMAPLAN_ACTOR": "os:e2e"}
    _dermaplan(env, "init")
    password, logins, secrets = _demo_members(
        _dermaplan(env, "demo", "seed", "--patients", str(DEMO_PATIENTS), "--seed", "5")
    )
    listed = _dermaplan(env, "--as", "Dr Ana Lima", "patients", "list", "--format", "json")
    port = _free_port()
    log = home / "serve.log"  # a file, not a pipe: a pipe nobody reads would block it
    with log.open("wb") as written:
        server = subprocess.Popen(
            [sys.executable, "-m", "dermaplan", "serve", "--port", str(port)],
            env=env,
            stdout=written,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/api/v1/health", server, log)
        yield Demo(url, password, logins, secrets, json.loads(listed), env)
    finally:
        server.terminate()
        server.wait(timeout=20)


def _wait_for(health: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"dermaplan serve stopped: {log.read_text()}")
        try:
            with urllib.request.urlopen(health, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"dermaplan serve did not answer {health} within a minute")


def dermaplan(demo: Demo, *arguments: str, **variables: str) -> str:
    """A dermaplan command over the demo's records (what the pages do not do yet), with
    these environment variables besides the demo's."""
    return _dermaplan(demo.env | variables, *arguments)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the run."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: scripts/services.sh installs Debian's chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; under CI=true the end-to-end tests must run")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


# Chromium's own stand-in camera (a moving test pattern), its use allowed without asking
FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture(scope="session")
def camera_browser(browser: object) -> Iterator[object]:
    """A second Chromium, launched by the first one's Playwright, whose camera is the
    stand-in: for the pages that take photos."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    launched = browser.browser_type.launch(executable_path=str(CHROMIUM), args=list(FAKE_CAMERA))
    yield launched
    launched.close()


@pytest.fixture
def page(browser: object, demo: Demo) -> Iterator[object]:
    """A fresh browser context on a 10-inch tablet's screen, held in landscape; it fails
    the test if a page breaks its Content-Security-Policy or throws."""
    yield from _checked_page(browser, demo)


@pytest.fixture
def camera_page(camera_browser: object, demo: Demo) -> Iterator[object]:
    """As `page`, in the browser with the stand-in camera."""
    yield from _checked_page(camera_browser, demo)


def _checked_page(browser: object, demo: Demo) -> Iterator[object]:
    from playwright.sync_api import Browser, Route

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=demo.url)
    context.route(
        f"**{AXE_URL}",
        lambda route: Route.fulfill(route, path=str(AXE), content_type="text/javascript"),
    )
    opened = context.new_page()
    broken: list[str] = []
    opened.on(
        "console",
        lambda message: (
            broken.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    opened.on("pageerror", lambda error: broken.append(str(error)))
    yield opened
    context.close()
    assert broken == []


def screenshot(page: object, name: str) -> None:
    """The page as a test artifact (test-artifacts/e2e/NAME.png, kept out of git)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def serious_violations(page: object) -> list[str]:
    """What axe-core finds serious or critical on the page as it is now."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.add_script_tag(url=AXE_URL)
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['nodes'])}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
