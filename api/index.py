"""Vercel entry point: the Python runtime serves the ASGI `app` exported here."""

import gc

# Importing the app allocates a few hundred thousand objects that live as long as the process;
# collecting while they are created is wasted work on every cold start (about 10% of the
# import, measured), and freezing them afterwards keeps later collections from walking them.
gc.disable()
try:
    from api._http.app import create_app

    app = create_app()
finally:
    gc.enable()
gc.freeze()
