"""Vercel entry point: the Python runtime serves the ASGI `app` exported here.

The builder finds `app` by reading this file, not by running it: it must stay a plain top-level
assignment (not inside try/with/if), or no function is built.
"""

import gc

# Importing the app allocates a few hundred thousand objects that live as long as the process;
# collecting while they are created is wasted work on every cold start (about 10% of the
# import, measured), and freezing them afterwards keeps later collections from walking them.
# No try/finally around it: a failed import ends the process, collector and all.
gc.disable()

from api._http.app import create_app  # noqa: E402 - after the collector is off

app = create_app()

gc.enable()
gc.freeze()
