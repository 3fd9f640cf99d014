"""Accessibility smoke test in Chromium: every input of every page has a label, and the configurator
works with the keyboard alone (choose, see why an option is blocked, force a conflict, repair it)."""

from __future__ import annotations

import pytest

from tests.e2e.test_web_flow import (  # noqa: F401 - browser and site are fixtures
    DESKTOP,
    PHONE,
    SERVER_LINE,
    browser,
    settled,
    sign_in,
    site,
)

pytestmark = pytest.mark.browser

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter((e) => !e.closest('[hidden]'))
  .filter((e) => {
    const named = e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
      || [...(e.labels || [])].some((l) => l.textContent.trim());
    return e.tagName === 'BUTTON' ? !e.textContent.trim() && !named : !named;
  })
  .map((e) => e.outerHTML.slice(0, 120))"""


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone-390x844"])
def test_every_input_on_every_page_has_a_label(browser, site, size):  # noqa: F811
    number = site.call("POST", "/api/v1/quotes", "sales@example.com", {"account_id": "GLOBEX", "lines": [SERVER_LINE]})[0]["number"]
    anonymous = browser.new_context(base_url=site.url, **size).new_page()
    anonymous.goto("/signin")
    assert anonymous.evaluate(UNLABELLED) == []
    anonymous.context.close()
    page = sign_in(browser, site, "sales@example.com", size)
    checked = []
    for path, ready in [("/catalog", "h1"), ("/quotes", "#quote-list tbody tr"),
                        ("/configure/SRV-1U", "#configurator[data-done]"),
                        ("/configure/DC-STARTER", "#configurator[data-done]"),
                        (f"/quotes/{number}", "#workspace[data-state]")]:
        page.goto(path)
        page.wait_for_selector(ready)
        assert page.evaluate(UNLABELLED) == [], path
        checked.append(page.evaluate("document.querySelectorAll('input, select').length"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["viewport"]["width"], f"{path} scrolls sideways"
    assert checked[2] > 40  # the configurator's options were rendered and checked
    page.context.close()


def focus_group(page, name: str, limit: int = 80) -> None:
    for _ in range(limit):
        if page.evaluate("document.activeElement && document.activeElement.name") == name:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached the {name} options")


def test_the_configurator_works_with_the_keyboard_only(browser, site):  # noqa: F811
    page = sign_in(browser, site, "buyer@globex.example", DESKTOP)
    page.goto("/configure/SRV-1U")
    done = settled(page, 0)
    page.locator("body").focus()
    focus_group(page, "f-cpu")
    assert page.evaluate("document.activeElement.id") == "opt-CPU-8C"  # the default is checked
    for expected in ("opt-CPU-16C", "opt-CPU-32C"):
        page.keyboard.press("ArrowDown")
        done = settled(page, done)
        assert page.evaluate("document.activeElement.id") == expected
    assert page.locator("#opt-CPU-32C").is_checked()
    assert page.locator("#opt-MEM-32").get_attribute("aria-disabled") == "true"
    focus_group(page, "f-psu")
    assert page.evaluate("document.activeElement.id") == "opt-PSU-800W"
    page.keyboard.press("ArrowUp")  # onto the blocked 500 W supply: the page explains instead of choosing
    why = page.locator("#whybox-PSU-500W")
    why.wait_for(state="visible")
    assert "needs the 800 W power supply" in why.text_content()
    assert page.evaluate("document.activeElement.textContent") == "Choose 500 W power supply anyway"
    page.keyboard.press("Enter")
    done = settled(page, done)
    assert page.locator("#conflict").is_visible()
    assert page.evaluate("document.activeElement.className") == "repair"
    assert page.evaluate("document.activeElement.textContent") == "Change 500 W power supply to 800 W power supply"
    page.keyboard.press("Enter")
    done = settled(page, done)
    assert page.locator("#conflict").is_hidden()
    assert page.locator("#opt-PSU-800W").is_checked()
    assert page.evaluate("document.activeElement.id") == "opt-PSU-800W"
    assert "USD" in page.text_content("#price")
    page.context.close()
