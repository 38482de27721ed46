"""Sources: pull the owner's real activity into the store.

``sync.sync_sources`` runs the selected sources (``github``, ``spotify``,
``lastfm``, ``weather``); each module talks to one upstream through the polite
client of ``http`` and writes through ``store.transaction()``. See
docs/sources.md for what is fetched and how failures are handled.
"""
