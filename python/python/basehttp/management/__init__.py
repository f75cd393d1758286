"""Django management commands of the ``basehttp`` app (``"basehttp"`` in ``INSTALLED_APPS``)."""
