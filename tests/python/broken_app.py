"""An application module that raises while it is imported, for tests/python.rs: the
traceback shown must lead to `load_settings` here."""


def load_settings():
    raise RuntimeError("settings are wrong")


SETTINGS = load_settings()


def app(environ, start_response):
    start_response("200 OK", [])
    return [b""]
