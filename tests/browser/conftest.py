"""Playwright on Debian's Chromium against pytest-django's live server on 127.0.0.1."""

import os
import shutil
from pathlib import Path

import pytest

from ..ccb.conftest import approve, windows  # noqa: F401 - the scheduling fixtures, for changes that run

# Playwright's sync API runs an event loop in this thread; the ORM calls our fixtures make here are
# still ordinary synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CCB_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"Browser tests need Chromium at {CHROMIUM}; .ci/run installs it.")
    skip = pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


# Runs in every page before its own scripts: a blocked script, style, image or frame is reported
# to the console, where the watch below collects it with the page's other errors.
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline code")
    + " in " + e.sourceFile + ":" + e.lineNumber);
});
"""


class ConsoleErrors:
    """Console errors, uncaught exceptions and CSP violations seen on every page of a test.

    A test that provokes an error on purpose (a 400 it wants shown) says so with ``expect(text)``.
    """

    def __init__(self):
        self.seen: list[str] = []
        self.expected: list[str] = []

    def watch(self, context) -> None:
        context.add_init_script(REPORT_CSP)

        def on_page(page):
            page.on("console", lambda msg: msg.type == "error" and self.seen.append(f"{page.url}: {msg.text}"))
            page.on("pageerror", lambda exc: self.seen.append(f"{page.url}: uncaught {exc}"))

        context.on("page", on_page)

    def expect(self, text: str) -> None:
        self.expected.append(text)

    def unexpected(self) -> list[str]:
        return [line for line in self.seen if not any(text in line for text in self.expected)]


@pytest.fixture
def console_errors():
    errors = ConsoleErrors()
    yield errors
    assert not errors.unexpected(), "Errors in the browser console:\n" + "\n".join(errors.unexpected())


@pytest.fixture
def new_context(chromium, live_server, console_errors):
    """new_context(viewport=None) -> a fresh browser context whose pages are watched for errors."""
    contexts = []

    def make(viewport=None):
        context = chromium.new_context(
            base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 900}, timezone_id="Europe/Berlin"
        )
        context.set_default_timeout(15_000)
        console_errors.watch(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in(new_context):
    """sign_in(username) -> a page in that person's own browser context, signed in."""

    def make(username, password="pw-for-tests", viewport=None):
        page = new_context(viewport).new_page()
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.username = username
        return page

    return make


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it stands."""
    # Evaluated by the browser's devtools channel, not as a page script, so the CSP need not allow it.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
