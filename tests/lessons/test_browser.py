"""The built site in a real browser: no console errors, search, copy buttons, diagrams.

Runs Debian's Chromium headless through Playwright (no browser download).  Without a
Chromium this test is skipped, unless WORKBOOK_REQUIRE_BROWSER is set, as CI sets it.
Screenshots of the landing page and a lesson, light and dark, first screen and whole page,
go to test-artifacts/site/.
"""

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "site"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = ["", "01-async-foundations/", "02-pydantic-contracts/", "notebooks/01_async_foundations/"]
TIMEOUT_MS = 20_000

if CHROMIUM is None and not os.environ.get("WORKBOOK_REQUIRE_BROWSER"):
    pytest.skip("no Chromium here (CI installs Debian's)", allow_module_level=True)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log: it would interleave with pytest's output."""


@pytest.fixture(scope="module")
def site(site_build) -> Iterator[str]:
    """The site, built strictly and served on localhost; yields its base URL."""
    assert site_build.returncode == 0, site_build.stderr
    folder = site_build.folder
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def visit(browser, url: str, scheme: str = "light"):
    """Open ``url`` in a fresh page; return the page and the errors it logged."""
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.goto(url, wait_until="networkidle", timeout=TIMEOUT_MS)
    return page, errors


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p or "landing")
def test_pages_load_without_console_errors(site, browser, path):
    page, errors = visit(browser, site + path)
    assert page.title()
    assert errors == []


def test_diagrams_render_from_the_local_mermaid(site, browser):
    page, errors = visit(browser, site + "01-async-foundations/")
    # the theme swaps each source block for a drawn diagram in a closed shadow root
    drawn = page.locator("div.mermaid")
    drawn.first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("pre.mermaid").count() == 0
    heights = [drawn.nth(i).bounding_box()["height"] for i in range(drawn.count())]
    assert heights
    assert min(heights) > 100, heights
    assert errors == []


def test_code_blocks_have_copy_buttons(site, browser):
    page, _ = visit(browser, site + "02-pydantic-contracts/")
    blocks = page.locator(".highlight pre").count()
    assert blocks > 5
    assert page.locator('button.md-code__button[data-md-type="copy"]').count() == blocks


def test_search_finds_a_lesson_by_a_term_from_its_body(site, browser):
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page, errors = visit(browser, site)
    page.click(".md-search__input")  # opens the search dialog, as a reader would
    page.keyboard.type("discriminator")
    # the result list is re-rendered as the search index answers: wait for the link
    # itself rather than reading a list that may change under the reader
    wanted = page.locator('.md-search-result__item a[href*="02-pydantic-contracts"]')
    try:
        wanted.first.wait_for(timeout=TIMEOUT_MS)
    except PlaywrightTimeoutError:
        shown = page.locator(".md-search-result__item a").evaluate_all(
            "links => links.map(link => link.getAttribute('href'))"
        )
        pytest.fail(f"no result links to 02-pydantic-contracts; the results: {shown}")
    assert errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", ["landing", "lesson"])
def test_screenshots(site, browser, name, scheme):
    path = "" if name == "landing" else "01-async-foundations/"
    page, _ = visit(browser, site + path, scheme)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("div.mermaid").first.wait_for(timeout=TIMEOUT_MS)  # both pages draw one
    shot = ARTIFACTS / f"{name}-{scheme}.png"
    page.screenshot(path=str(shot))  # what a reader sees first
    assert shot.stat().st_size > 10_000
    whole = ARTIFACTS / f"{name}-{scheme}-full.png"
    page.screenshot(path=str(whole), full_page=True)
    assert whole.stat().st_size > shot.stat().st_size
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    dark = background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
    assert dark == (scheme == "dark"), background
