"""Quote PDFs from real quotes (sample catalog, quotes API) on SQLite and PostgreSQL, read back with pypdf."""

from __future__ import annotations

import io

import pypdf
import pytest
from babel.numbers import format_currency

from cpq import store
from cpq.store import people
from tests.conftest import bearer

SERVER = {"product": "SRV-2U", "quantity": 2, "group": "Compute", "options": [
    {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960", "quantity": 2}, {"id": "PSU-800W"}]}
STARTER = {"product": "DC-STARTER", "group": "Compute", "options": [{"id": "SVC-STAGING"}, {"id": "SUP-BASIC"}],
           "components": [{"id": "server", "quantity": 3, "options": [
               {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}, {"id": "tor", "quantity": 2}]}
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def docs(seeded):
    """A client, callers by email, and two more accounts: UMBRELLA (Germany) and a buyer for it."""
    app, keys = seeded
    with store.make_engine(app.config["DATABASE_URL"]).begin() as conn:
        sales = people.find_user_by_email(conn, "sales@example.com")
        people.create_account(conn, "UMBRELLA", "Umbrella GmbH", owner_id=sales.id, country="DE", currency="EUR",
                              tax_id="DE811907980", address="Königsallee 1\n40212 Düsseldorf")
        buyer = people.create_user(conn, "buyer@umbrella.example", "Alice Käufer", "buyer", account_id="UMBRELLA")
        keys["buyer@umbrella.example"] = people.create_api_key(conn, buyer.id)[1]
    client = app.test_client()

    def call(method, path, who=None, json=None, etag=None):
        headers = dict(bearer(keys[who])) if who else {}
        if etag:
            headers["If-Match"] = etag
        return client.open(path, method=method, json=json, headers=headers)

    call.app = app
    return call


def create(call, account="GLOBEX", lines=(SERVER, STARTER), who="sales@example.com", **terms):
    response = call("POST", "/api/v1/quotes", who, json={"account_id": account, "lines": list(lines), **terms})
    assert response.status_code == 201, response.json
    return response


def send(call, created, who="sales@example.com"):
    number = created.json["number"]
    sent = call("POST", f"/api/v1/quotes/{number}/send", who, etag=created.headers["ETag"])
    assert sent.status_code == 200, sent.json
    return sent


def pages(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.data)).pages]


def test_a_sent_quote_prints_parties_lines_totals_terms_and_verification(docs):
    created = create(docs, payment_terms="Net 30 days", delivery_terms="DAP Cypress Creek", valid_until="2031-01-31")
    sent = send(docs, created)
    number, quote = sent.json["number"], sent.json
    response = docs("GET", f"/api/v1/quotes/{number}.pdf", "sales@example.com")
    assert response.headers["Content-Disposition"] == f'inline; filename="{number}-rev1.pdf"'
    text = "\n".join(pages(response))
    for expected in (number, "Revision 1", "Northwind Compute Inc.", "US-93-1234567",  # seller, from the brand
                     "Globex Corporation", "US-94-1234567", "1 Globex Way, Cypress Creek, OR",  # buyer
                     "Sam Sales", "sales@example.com", "January 31, 2031", "Net 30 days", "DAP Cypress Creek",
                     "Rack server 2U", "16-core 2.9 GHz processor", "Data-centre starter kit", "Subtotal Compute",
                     "One-time charges", "Recurring charges over", "Tax standard 8.25%", "Grand total",
                     format_currency(quote["priced"]["totals"]["grand_total"], "USD", locale="en_US"),
                     quote["document_hash"][:32], quote["ruleset_version"][:32], "/api/v1/quotes/verify/",
                     "To accept, sign and return"):
        assert expected in text, expected
    assert "Page 1 of " in text
    assert "margin" not in text.lower() and "cost" not in text.lower()


def test_a_revision_renders_as_it_was_priced_after_the_quote_changed(docs):
    created = create(docs, lines=[SERVER])
    sent = send(docs, created)
    number = sent.json["number"]
    changed = docs("PATCH", f"/api/v1/quotes/{number}", "sales@example.com",
                   json={"lines": [{**SERVER, "quantity": 5}]}, etag=sent.headers["ETag"])
    assert changed.json["revision"] == 2
    first = "\n".join(pages(docs("GET", f"/api/v1/quotes/{number}/revisions/1.pdf", "sales@example.com")))
    current = "\n".join(pages(docs("GET", f"/api/v1/quotes/{number}.pdf", "sales@example.com")))
    assert "Revision 1" in first and sent.json["document_hash"][:32] in first
    assert "Revision 2" in current and "DRAFT" in current and "This is not an offer yet" in current


def test_another_customers_quote_has_no_pdf_for_you(docs):
    number = create(docs, account="UMBRELLA", lines=[SERVER]).json["number"]
    for path in (f"/api/v1/quotes/{number}.pdf", f"/api/v1/quotes/{number}/revisions/1.pdf"):
        for who in ("buyer@globex.example", "partner@acme.example"):
            response = docs("GET", path, who)
            assert response.status_code == 404, (path, who)
            assert response.mimetype == "application/problem+json"
        assert docs("GET", path).status_code == 401
    assert docs("GET", f"/api/v1/quotes/{number}.pdf", "buyer@umbrella.example").status_code == 200
    assert docs("GET", f"/api/v1/quotes/{number}/revisions/9.pdf", "sales@example.com").status_code == 404


def test_verify_says_whether_a_document_is_genuine_and_current(docs):
    created = create(docs, lines=[SERVER])
    first = send(docs, created)
    number, first_hash = first.json["number"], first.json["document_hash"]
    answer = docs("GET", f"/api/v1/quotes/verify/{first_hash}")  # public: no key
    assert answer.status_code == 200
    assert answer.json == {"document_hash": first_hash, "genuine": True, "number": number, "revision": 1,
                           "state": "sent", "current": True}
    changed = docs("PATCH", f"/api/v1/quotes/{number}", "sales@example.com",
                   json={"lines": [{**SERVER, "quantity": 3}]}, etag=first.headers["ETag"])
    second = send(docs, changed)
    old = docs("GET", f"/api/v1/quotes/verify/{first_hash.upper()}").json
    assert (old["genuine"], old["current"], old["state"], old["revision"]) == (True, False, "superseded", 1)
    new = docs("GET", f"/api/v1/quotes/verify/{second.json['document_hash']}").json
    assert (new["current"], new["revision"]) == (True, 2)
    unknown = docs("GET", f"/api/v1/quotes/verify/{'0' * 64}")
    assert unknown.status_code == 404 and unknown.json["code"] == "unknown_document"
    assert docs("GET", "/api/v1/quotes/verify/not-a-hash").status_code == 422
    assert set(answer.json) == {"document_hash", "genuine", "number", "revision", "state", "current"}


@SQLITE_ONLY
def test_chinese_documents_embed_a_real_cjk_font(docs):
    number = send(docs, create(docs, lines=[SERVER])).json["number"]
    response = docs("GET", f"/api/v1/quotes/{number}.pdf?lang=zh", "sales@example.com")
    text = "\n".join(pages(response))
    assert "报价单" in text and "总计" in text and "第 1 页，共" in text
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    fonts = {str(font["/BaseFont"]) for page in reader.pages for font in page["/Resources"]["/Font"].values()}
    assert any("Noto-Sans-CJK-SC" in f or "NotoSansCJKsc" in f for f in fonts), fonts


@SQLITE_ONLY
def test_german_customers_get_german_a4_documents_with_german_number_formats(docs):
    created = create(docs, account="UMBRELLA", lines=[SERVER])
    response = docs("GET", f"/api/v1/quotes/{created.json['number']}.pdf", "sales@example.com")
    text = "\n".join(pages(response))
    grand = format_currency(created.json["priced"]["totals"]["grand_total"], "EUR", locale="de_DE")
    for expected in ("Angebot", "Gesamtbetrag", "Umbrella GmbH", "Königsallee 1", "DE811907980", grand, "Seite 1 von 1",
                     "ENTWURF"):
        assert expected in text, expected
    box = pypdf.PdfReader(io.BytesIO(response.data)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4; GLOBEX (US) gets 612 × 792


@SQLITE_ONLY
def test_prices_of_components_discounts_and_the_waterfall_follow_the_query(docs):
    created = create(docs, lines=[SERVER])
    number, line = created.json["number"], created.json["priced"]["lines"][0]
    cpu = next(i for i in line["items"] if i["sku"] == "CPU-16C")
    path = f"/api/v1/quotes/{number}.pdf"
    full = "\n".join(pages(docs("GET", path, "sales@example.com")))
    assert "UNIT LIST" in full and f"{float(cpu['total']):,.2f}" in full  # headers print in capitals
    bundle_only = "\n".join(pages(docs("GET", f"{path}?hide_component_prices=true&hide_discounts=true",
                                       "sales@example.com")))
    assert "16-core 2.9 GHz processor" in bundle_only and f"{float(line['total']):,.2f}" in bundle_only
    assert f"{float(cpu['total']):,.2f}" not in bundle_only
    assert "UNIT LIST" not in bundle_only and "DISCOUNT" not in bundle_only and "Discount" not in bundle_only
    appendix = "\n".join(pages(docs("GET", f"{path}?waterfall=true", "sales@example.com")))
    assert "APPENDIX: PRICE WATERFALL" in appendix.upper() and "Contract price" in appendix and "contract-globex" in appendix
    assert docs("GET", f"{path}?lang=fr", "sales@example.com").status_code == 422
    assert docs("GET", f"{path}?paper=a3", "sales@example.com").status_code == 422


@SQLITE_ONLY
def test_an_account_name_with_markup_prints_as_text(docs, seeded):
    app, _ = seeded
    with store.make_engine(app.config["DATABASE_URL"]).begin() as conn:
        people.create_account(conn, "EVIL", '<img src=file:///etc/passwd> Evil "Corp"',
                              owner_id=people.find_user_by_email(conn, "sales@example.com").id, country="US",
                              address='<link rel="attachment" href="file:///etc/passwd"><style>*{display:none}</style>')
    number = create(docs, account="EVIL", lines=[SERVER], payment_terms="<b>net</b> 30").json["number"]
    response = docs("GET", f"/api/v1/quotes/{number}.pdf", "sales@example.com")
    text = "\n".join(pages(response))
    assert '<img src=file:///etc/passwd> Evil "Corp"' in text
    assert "<style>*{display:none}</style>" in text and "<b>net</b> 30" in text
    assert b"root:x:0:0" not in response.data and b"/EmbeddedFiles" not in response.data


@SQLITE_ONLY
def test_a_partners_customer_gets_the_partners_brand_and_an_accepted_quote_says_who_accepted(docs):
    partner_quote = create(docs, account="INITECH", lines=[SERVER], who="partner@acme.example").json["number"]
    text = "\n".join(pages(docs("GET", f"/api/v1/quotes/{partner_quote}.pdf", "partner@acme.example")))
    assert "Acme Reseller GmbH" in text and "DE123456789" in text and "Initech LLC" in text
    assert "US-93-1234567" not in text and "100 Harbor Drive" not in text  # the partner is the seller of record
    sent = send(docs, create(docs, lines=[SERVER]))
    number = sent.json["number"]
    accepted = docs("POST", f"/api/v1/quotes/{number}/accept", "buyer@globex.example", etag=sent.headers["ETag"],
                    json={"name": "Hank Buyer", "document_hash": sent.json["document_hash"]})
    assert accepted.status_code == 200, accepted.json
    text = "\n".join(pages(docs("GET", f"/api/v1/quotes/{number}.pdf", "buyer@globex.example")))
    assert "Accepted by Hank Buyer on" in text and "buyer@globex.example" in text
