"""Quote documents: a stored priced revision → HTML (Jinja2, Babel) → PDF (WeasyPrint).

`content` turns the stored revision into plain rows and totals (pure, no I/O); `formatting` holds
the locale (Babel) and the message catalogs; `brands` reads seller and partner branding from
`templates/brands/`; `fetcher` is the only way WeasyPrint reads a file; `pdf` renders with limits;
`service` loads what a caller may see from the database and answers document verification.
"""
