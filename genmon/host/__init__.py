"""Runs Faust apps, each on its own loop in its own thread, and carries commands to them: the part of
a worker process that holds the user's app (``host.py``), loads it (``loader.py``), creates its topics
(``topics.py``) and runs each app (``apprun.py``).

Nothing is re-exported here: the screen's process imports ``genmon.host.errors`` and
``genmon.host.loader`` for their exceptions and must not import Faust with them.
"""
