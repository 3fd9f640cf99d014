"""The quote workspace for sales in Chromium: bundles from the configurator into a new and an existing
draft, quantities and a manual discount, re-configuring a line, the approvals a discount needs and a
manager's rejection; a sent quote changed into revision 2, its diff and the PDF download."""

from __future__ import annotations

import pytest

from tests.e2e.test_web_flow import (  # noqa: F401 - browser and site are fixtures
    DESKTOP,
    SERVER_LINE,
    Shots,
    browser,
    settled,
    sign_in,
    site,
)

pytestmark = pytest.mark.browser


def configure_page(page, product_name: str):
    page.goto("/catalog")
    page.get_by_role("link", name=f"Configure {product_name}").click()
    return settled(page, 0)


def test_sales_build_a_quote_of_two_bundles_edit_it_and_a_manager_rejects_it(browser, site, tmp_path):  # noqa: F811
    shots = Shots(tmp_path / "screenshots")
    page = sign_in(browser, site, "sales@example.com", DESKTOP)
    done = configure_page(page, "Rack server 2U")
    assert page.locator("#account option").all_text_contents() == ["Globex Corporation (USD)", "Globex Europe B.V. (EUR)"]
    page.get_by_role("button", name="Complete for me (cheapest)").click()
    settled(page, done)
    assert "USD" in page.text_content("#price")
    page.get_by_role("button", name="Add to quote").click()
    page.wait_for_selector("#workspace[data-state=draft]")
    number = page.get_attribute("#workspace", "data-number")

    # a second bundle into the same draft
    configure_page(page, "48-port 25 GbE top-of-rack switch")
    page.get_by_label("Add to").select_option(number)
    page.get_by_role("button", name="Add to quote").click()
    page.wait_for_url(f"**/quotes/{number}")
    page.wait_for_selector("#line-2")
    assert page.locator(".bundle").count() == 2
    shots(page, "two-bundles")

    # quantities and a manual discount above the sales limit of 10 %
    total_before = page.text_content("#totals")
    page.get_by_label("Quantity").first.fill("3")
    page.get_by_label("Manual discount on the quote").fill("15%")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_function("document.getElementById('discount-limit').textContent.length > 0")
    assert "exceeds the sales limit of 10%" in page.text_content("#discount-limit")
    assert page.text_content("#totals") != total_before
    assert "needs sales manager" in page.text_content("#approvals")
    shots(page, "discounted")

    # re-configure line 1: the configurator opens with its options, and saves back into the line
    page.locator("#line-1").get_by_role("link", name="Re-configure").click()
    done = settled(page, 0)
    assert page.locator("#bundle-qty").input_value() == "3"
    page.locator("label[for=opt-MEM-128]").click()
    settled(page, done)
    page.get_by_role("button", name=f"Save line 1 of {number}").click()
    page.wait_for_url(f"**/quotes/{number}")
    page.wait_for_selector("#line-1")
    assert "MEM-128" in page.text_content("#line-1")
    assert page.locator("#line-1 input[type=number]").input_value() == "3"

    page.get_by_role("button", name="Submit for approval").click()
    page.wait_for_selector("#workspace[data-state=pending_approval]")
    assert "pending — sales manager" in page.text_content("#approvals")
    shots(page, "submitted")
    page.context.close()

    manager = sign_in(browser, site, "manager@example.com", DESKTOP)
    manager.goto(f"/quotes/{number}")
    manager.wait_for_selector("#workspace[data-state=pending_approval]")
    manager.get_by_role("button", name="Reject").click()  # without a comment: the problem is shown inline
    manager.wait_for_selector("#problem:not([hidden])")
    assert "say why the quote is rejected" in manager.text_content("#problem")
    manager.get_by_label("Comment (needed to reject)").fill("15 % is too much for this deal")
    manager.get_by_role("button", name="Reject").click()
    manager.wait_for_selector("#workspace[data-state=rejected]")
    assert "15 % is too much for this deal" in manager.text_content("#approvals")
    shots(manager, "rejected")
    manager.context.close()


def test_a_sent_quote_changed_by_sales_gets_revision_two_with_its_diff_and_the_pdf(browser, site):  # noqa: F811
    quote, _ = site.call("POST", "/api/v1/quotes", "sales@example.com", {"account_id": "GLOBEX-EU", "lines": [SERVER_LINE]})
    number = quote["number"]
    page = sign_in(browser, site, "sales@example.com", DESKTOP)
    page.goto(f"/quotes/{number}")
    page.wait_for_selector("#workspace[data-state=draft]")
    assert "No approval needed." in page.text_content("#approvals")
    page.get_by_role("button", name="Send to the buyer").click()
    page.wait_for_selector("#workspace[data-state=sent]")
    page.get_by_label("Quantity").first.fill("3")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_function("document.getElementById('summary').textContent.includes('revision 2')")
    assert page.get_attribute("#workspace", "data-state") == "draft"
    page.get_by_role("button", name="What changed since 1").click()
    diff = page.get_by_role("region", name="Changes in revision 2")
    diff.wait_for()
    assert "Line 1: quantity 2 → 3" in diff.text_content()
    assert "net:" in diff.text_content()
    pdf = page.request.get(page.get_by_role("link", name="Download PDF").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    page.context.close()


def test_the_buyer_declines_a_sent_quote_and_sees_no_accept_button_afterwards(browser, site):  # noqa: F811
    quote, etag = site.call("POST", "/api/v1/quotes", "sales@example.com",
                            {"account_id": "GLOBEX", "lines": [{**SERVER_LINE, "quantity": 1}]})
    number = quote["number"]
    if quote["priced"]["approvals"]:
        quote, etag = site.call("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", {}, etag)
        manager = sign_in(browser, site, "manager@example.com", DESKTOP)
        manager.goto(f"/quotes/{number}")
        manager.get_by_role("button", name="Approve").click()
        manager.wait_for_selector("#workspace[data-state=approved]")
        manager.context.close()
        quote, etag = site.call("GET", f"/api/v1/quotes/{number}", "sales@example.com")
    site.call("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", {}, etag)
    page = sign_in(browser, site, "buyer@globex.example", DESKTOP)
    page.goto(f"/quotes/{number}")
    page.wait_for_selector("#workspace[data-state=sent]")
    assert page.get_by_role("button", name="Send to the buyer").count() == 0  # a buyer never sends
    assert page.locator("#edit-bar").is_hidden()  # nor changes lines
    page.get_by_role("button", name="Decline").click()
    page.wait_for_selector("#workspace[data-state=declined]")
    assert page.locator("#accept-box").is_hidden()
    page.context.close()
