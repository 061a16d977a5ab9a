"""Vercel entry point: the Python runtime serves the ASGI `app` exported here."""

from api._http.app import create_app

app = create_app()
