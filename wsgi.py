"""WSGI entry point: `gunicorn wsgi:app`."""

from cpq import create_app

app = create_app()
