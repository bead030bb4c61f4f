"""The ``cohort`` command line: an entry point on top of every package; nothing imports it."""
