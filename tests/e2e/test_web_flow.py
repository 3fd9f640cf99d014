"""The web pages in Debian's Chromium (Playwright): a buyer configures, quotes and submits, a sales
manager approves and sends, the buyer accepts and the order appears — at desktop and phone size.

Screenshots of every step go to the test's tmp_path (printed). The timings of each configurator
interaction (click → options, reasons and conflict updated; and → price updated too), measured in the
page, are printed with the load average, against the 150 ms budget (printed, not asserted: see
docs/web.md).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import urllib.request
from pathlib import Path

import pytest

from cpq import create_app, store
from cpq.cli_people import SAMPLE_PASSWORD, seed
from tests.conftest import IN_CI, SAMPLE_PATHS
from tests.integration.test_orders_support import fast_settings, run_worker

CHROMIUM = "/usr/bin/chromium"
BUDGET_MS = 150
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless; never a downloaded browser. Skipped locally without it, required in CI."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"the browser tests need {CHROMIUM} in CI (.ci/run installs the chromium package)")
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            raise
        pytest.skip("playwright is not installed (make install-test)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-background-networking"])
        yield chromium
        chromium.close()


class Site:
    """The app served over real HTTP on 127.0.0.1 (werkzeug in a thread) on a seeded SQLite file."""

    def __init__(self, tmp_path: Path):
        from werkzeug.serving import make_server

        self.database_url = f"sqlite:///{tmp_path / 'web.db'}"
        store.upgrade(self.database_url)
        engine = store.make_engine(self.database_url)
        with engine.begin() as conn:
            self.keys = dict(seed(conn))
        engine.dispose()
        self.app = create_app({"RULES_DIR": SAMPLE_PATHS[0], "PRICEBOOKS_DIR": SAMPLE_PATHS[1],
                               "DATABASE_URL": self.database_url, "SECRET_KEY": "browser-test"})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def call(self, method: str, path: str, who: str, body=None, etag: str | None = None) -> tuple[dict, str]:
        """The REST API with a sample user's key (to set a quote up quickly): (body, ETag)."""
        headers = {"Authorization": f"Bearer {self.keys[who]}", "Content-Type": "application/json"}
        if etag:
            headers["If-Match"] = etag
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method, headers=headers)
        with urllib.request.urlopen(request) as answer:
            return json.load(answer), answer.headers["ETag"]

    def close(self):
        self.server.shutdown()
        self.app.extensions["cpq.engine"].dispose()


@pytest.fixture
def site(tmp_path):
    served = Site(tmp_path)
    yield served
    served.close()


SERVER_LINE = {"product": "SRV-2U", "quantity": 2, "options": [
    {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960", "quantity": 2}, {"id": "PSU-800W"}]}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


class Shots:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, page, name: str):
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


def sign_in(browser, site, email, size):
    context = browser.new_context(base_url=site.url, **size)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/catalog")  # → the sign-in page, then back
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(SAMPLE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/catalog")
    return page


def settled(page, after: int) -> int:
    """Wait until the configurator finished the round trip after number `after`; its number."""
    page.wait_for_function(f"Number(document.getElementById('configurator').dataset.done || 0) > {after}")
    return int(page.get_attribute("#configurator", "data-done"))


def press(page, locator, touch: bool):
    (locator.tap if touch else locator.click)()


def configure_and_submit(browser, site, size, shots) -> str:
    touch = size is PHONE
    page = sign_in(browser, site, "buyer@globex.example", size)
    shots(page, "catalog")
    page.get_by_role("link", name="Configure Rack server 1U").click()
    done = settled(page, 0)
    start_price = page.text_content("#price")
    assert "USD" in start_price
    shots(page, "configurator")

    # choosing the 32-core processor blocks the small memory kits and the 500 W supply, with the reason
    press(page, page.get_by_label("32-core 2.6 GHz processor"), touch)
    done = settled(page, done)
    small_memory = page.locator("#opt-MEM-32")
    assert small_memory.get_attribute("aria-disabled") == "true"
    assert page.locator("#opt-PSU-500W").get_attribute("aria-disabled") == "true"
    price_32c = page.text_content("#price")
    assert price_32c != start_price
    if touch:
        # Playwright waits for aria-disabled targets to become enabled; a person can tap them anyway
        page.locator("label[for=opt-MEM-32]").tap(force=True)
        why = page.locator("#whybox-MEM-32")
    else:
        page.locator("#row-MEM-32").hover()
        why = page.locator("#why-MEM-32")
    assert why.is_visible()
    assert "32-core processors at least 128 GB" in why.text_content()
    assert "Because you chose: 32-core 2.6 GHz processor" in why.text_content()
    assert not small_memory.is_checked()  # tapping a blocked option explains it; it does not choose it
    shots(page, "blocked-option-reason")

    # choose a blocked option anyway: the page shows the conflict and one-click repairs
    page.locator("label[for=opt-PSU-500W]").click(force=True)
    page.get_by_role("button", name="Choose 500 W power supply anyway").click()
    done = settled(page, done)
    conflict = page.locator("#conflict")
    assert conflict.is_visible()
    assert "A 32-core processor in a 1U server needs the 800 W power supply." in conflict.text_content()
    assert page.text_content("#price") == "—"
    shots(page, "conflict")
    press(page, page.get_by_role("button", name="Change 500 W power supply to 800 W power supply"), touch)
    done = settled(page, done)
    assert conflict.is_hidden()
    assert page.locator("#opt-PSU-800W").is_checked()
    assert page.text_content("#price") == price_32c
    shots(page, "repaired")

    # forty bundles: the price changes, and the deal needs a sales manager
    page.get_by_label("Quantity of bundles").fill("40")
    page.get_by_label("Quantity of bundles").dispatch_event("change")
    page.wait_for_function(f"document.getElementById('price').textContent !== {price_32c!r}")
    shots(page, "forty-bundles")
    timings = page.evaluate("window.cpqTimings")
    page.get_by_role("button", name="Add to quote").click()
    page.wait_for_url("**/quotes/Q-*")
    page.wait_for_selector("#workspace[data-state=draft]")
    number = page.get_attribute("#workspace", "data-number")
    assert "SRV-1U" in page.text_content("#lines")
    shots(page, "draft-quote")
    page.get_by_role("button", name="Submit for approval").click()
    page.wait_for_selector("#workspace[data-state=pending_approval]")
    approvals = page.text_content("#approvals")
    assert "sales manager" in approvals and "250,000 USD" in approvals
    shots(page, "submitted")
    page.context.close()
    report_timings(size, timings)
    return number


def report_timings(size, timings):
    configure = [t["configure_ms"] for t in timings]
    with_price = [t["with_price_ms"] for t in timings]
    print(f"\nconfigurator at {size['viewport']['width']} px, {len(timings)} recomputations: "
          f"click → options updated {configure} ms (median {statistics.median(configure)}), "
          f"→ price updated too {with_price} ms (median {statistics.median(with_price)}); budget {BUDGET_MS} ms")
    # Printed, not asserted: a timed assertion on a shared 2-core machine fails on load, not on code
    # (the project's rule: benchmarks are not timed tests). docs/web.md has the figures.
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    verdict = "within" if statistics.median(configure) < BUDGET_MS else "over"
    print(f"median {verdict} the {BUDGET_MS} ms budget; load average {load:.1f} per core")


def approve_and_send(browser, site, size, shots, number):
    page = sign_in(browser, site, "manager@example.com", size)
    page.goto(f"/quotes/{number}")
    page.wait_for_selector("#workspace[data-state=pending_approval]")
    page.get_by_label("Comment (needed to reject)").fill("volume deal, fine")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_selector("#workspace[data-state=approved]")
    shots(page, "approved")
    page.get_by_role("button", name="Send to the buyer").click()
    page.wait_for_selector("#workspace[data-state=sent]")
    shots(page, "sent")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    page.context.close()


def accept_and_see_the_order(browser, site, size, shots, number):
    page = sign_in(browser, site, "buyer@globex.example", size)
    page.goto(f"/quotes/{number}")
    page.wait_for_selector("#workspace[data-state=sent]")
    shown_hash = page.text_content("#accept-hash")
    assert len(shown_hash) == 64
    page.get_by_label("Type your full name to accept").fill("Hank Buyer")
    shots(page, "accepting")
    page.get_by_role("button", name="Accept quote").click()
    page.wait_for_selector("#workspace[data-state=accepted]")
    run_worker(site.database_url, fast_settings())  # the order worker delivers to the builtin order management
    page.wait_for_selector("#workspace[data-state=ordered]")
    page.wait_for_function("document.getElementById('order-status').textContent.includes('received')")
    shots(page, "ordered")
    page.context.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone-390x844"])
def test_buyer_configures_quotes_and_accepts_and_the_order_appears(browser, site, size, tmp_path):
    shots = Shots(tmp_path / "screenshots")
    number = configure_and_submit(browser, site, size, shots)
    approve_and_send(browser, site, size, shots, number)
    accept_and_see_the_order(browser, site, size, shots, number)
    print(f"screenshots: {shots.folder} ({shots.count})")
    assert shots.count >= 12
