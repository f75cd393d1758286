"""A WSGI application for the CLI tests in tests/python.rs."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"hello from {environ['PATH_INFO']}".encode()]


not_callable = 42
