"""A fleet of Faust workers watched over Kafka: each worker publishes its probe's state to a topic of
genmon's own, and a watcher (the screen, ``--headless``, ``check``) merges them.

* :mod:`genmon.fleet.channel` — genmon's two topics (reports, control) and how they are created;
* :mod:`genmon.fleet.publisher` — in a worker: reports out, switches in (a thread of its own);
* :mod:`genmon.fleet.watcher` — in the screen's process: reports in, switches out; a ``Monitor``;
* :mod:`genmon.fleet.worker` — the worker process genmon starts itself (the demo, ``-A``);
* :mod:`genmon.fleet.processes` — starting and stopping those processes, bounded;
* :mod:`genmon.fleet.fixup` — Faust's ``faust.fixups`` entry point: the probe in any ``faust worker``.
"""
