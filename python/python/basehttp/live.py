"""Live reload under ``manage.py runserver`` (with ``"basehttp"`` in ``INSTALLED_APPS``): the
browser follows every save.

Django's autoreloader already watches the project: a Python change restarts the server (the
tabs reload once the new one answers: the autoreloader's parent holds the socket, so their
event stream reconnects to it), and a template change resets Django's template loaders
without a restart (``django.template.autoreload``). This module adds the static files to what
the autoreloader watches (``autoreload_started``: every directory the staticfiles finders
serve from), and on ``file_changed`` tells the tabs: a stylesheet is swapped in place, any other
static file or a template reloads them; a static file restarts nothing (this receiver says it
handled the change).

runserver turns it on when ``DEBUG`` is true (``--reload-browser`` forces it,
``--no-reload-browser`` turns it off), and only with the autoreloader (``--noreload`` watches
nothing).
"""

from pathlib import Path

#: Live reload is wanted in this process (runserver sets it before the autoreloader starts).
wanted = False
#: The running server's handle, once it serves.
_handle = None


def activate(handle):
    """The server now serves with live reload: changes go to its tabs."""
    global _handle
    _handle = handle


def static_roots():
    """``(directory, URL prefix)`` for every directory the staticfiles finders serve from."""
    from django.conf import settings
    try:
        from django.contrib.staticfiles import finders
        from django.core.files.storage import FileSystemStorage
    except ImportError:
        return []
    url = settings.STATIC_URL or "/static/"
    if not url.startswith("/"):
        url = "/" + url
    roots = []
    for finder in finders.get_finders():
        for storage in getattr(finder, "storages", {}).values():
            if isinstance(storage, FileSystemStorage):
                prefix = getattr(storage, "prefix", None) or ""
                base = url + (prefix.strip("/") + "/" if prefix else "")
                roots.append((Path(storage.location).resolve(), base))
    return roots


def on_autoreload_started(sender, **kwargs):
    """Adds the static files to what the autoreloader watches."""
    if not wanted:
        return
    for root, _ in static_roots():
        if root.is_dir():
            sender.watch_dir(root, "**/*")


def on_file_changed(sender, file_path, **kwargs):
    """Tells the tabs; True (no restart) for a static file."""
    if _handle is None:
        return None
    path = Path(file_path).resolve()
    for root, base in static_roots():
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        url = base + rel.as_posix()
        _handle.reload("css" if path.suffix.lower() == ".css" else "reload", url)
        return True
    from django.template.autoreload import get_template_directories
    if any(path.is_relative_to(d.resolve()) for d in get_template_directories()):
        # Django's own receiver resets the template loaders and prevents the restart.
        _handle.reload("reload", "/")
    return None
