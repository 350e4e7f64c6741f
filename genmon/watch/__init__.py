"""The services of the process that watches (the screen, ``--headless``, ``check``, ``watch``):

* :mod:`genmon.watch.readout` — merged reports to readings and snapshots, for every ``Monitor``;
* :mod:`genmon.watch.sampler` — the settle clocks, advanced on a thread of their own;
* :mod:`genmon.watch.offsets` — broker truth: end offsets, committed offsets, group members;
* :mod:`genmon.watch.waiting` — waiting for rows to settle at the end of a run;
* :mod:`genmon.watch.logs` — where genmon's and Faust's log lines go (never the terminal);
* :mod:`genmon.watch.metrics` — the Prometheus endpoint over the latest snapshot.

None of it imports Faust or Textual.
"""
