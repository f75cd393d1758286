"""``runserver``, served by basehttp: see :mod:`basehttp.management.commands.runserver`."""
