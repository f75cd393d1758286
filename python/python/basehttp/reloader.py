"""A Django autoreloader on the operating system's file watcher (inotify on Linux), used by
basehttp's ``runserver`` in place of Django's ``StatReloader``, which looks at every watched
file once a second: this one waits for the kernel to say a file changed, so a save is seen in
about 50 ms instead of up to a second, and nothing is looked at while nothing changes.

It watches what Django's reloaders watch (the imported modules' files, ``extra_files``, and
the directories and patterns added with ``watch_dir``, as in ``autoreload_started``
receivers), keeps Django's signals (``autoreload_started``, ``file_changed``: a receiver that
returns True still prevents the restart), and looks again once a second for modules imported
since (when ``sys.modules`` or the watches grow; no file is read). ``BASEHTTP_RELOADER=stat`` keeps
Django's own reloader; so does a machine where no watcher can be made (too many watches).
"""

import fnmatch
import os
import sys
from pathlib import Path

from django.utils import autoreload

from . import _native


class NativeReloader(autoreload.BaseReloader):
    #: How often the set of watched directories is looked at again.
    REFRESH = 1.0

    def __init__(self):
        super().__init__()
        self._watcher = _native.Watcher()
        self._dirs = {}

    def _wanted(self):
        """The watched files, their directories (recursive or not) and the globs."""
        files = set()
        dirs = {}
        for path in list(autoreload.iter_all_python_module_files()) + list(self.extra_files):
            path = Path(path)
            files.add(path)
            dirs.setdefault(path.parent, False)
        globs = []
        for directory, patterns in self.directory_globs.items():
            dirs[Path(directory)] = True
            globs.append((Path(directory), tuple(patterns)))
        return files, dirs, globs

    def _rewatch(self, dirs):
        for directory in list(self._dirs):
            if dirs.get(directory) != self._dirs[directory]:
                try:
                    self._watcher.unwatch(str(directory))
                except OSError:
                    pass
                del self._dirs[directory]
        for directory, recursive in dirs.items():
            if directory not in self._dirs and directory.is_dir():
                try:
                    self._watcher.watch(str(directory), recursive)
                    self._dirs[directory] = recursive
                except OSError:
                    pass

    def tick(self):
        files, globs, seen = set(), [], None
        while True:
            # The watched set changes only with new modules or new watches: looked at again
            # then, not every second.
            now = (len(sys.modules), len(self.extra_files), len(self.directory_globs))
            if now != seen:
                files, dirs, globs = self._wanted()
                self._rewatch(dirs)
                seen = now
            for changed in self._watcher.changes(self.REFRESH):
                path = Path(changed)
                if path in files or any(_matches(path, d, p) for d, p in globs):
                    self.notify_file_changed(path)
            yield

    @classmethod
    def check_availability(cls):
        return True


def _matches(path, directory, patterns):
    """Whether ``path`` is below ``directory`` and matches one of the glob ``patterns`` (as
    ``directory.glob(pattern)`` would find it)."""
    try:
        rel = path.relative_to(directory).as_posix()
    except ValueError:
        return False
    for pattern in patterns:
        if pattern.startswith("**/"):
            if fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern[3:]):
                return True
        elif fnmatch.fnmatch(rel, pattern):
            return True
    return False


def get_reloader():
    """``NativeReloader``, unless ``BASEHTTP_RELOADER=stat`` or no watcher can be made; then
    Django's own choice."""
    if os.environ.get("BASEHTTP_RELOADER") != "stat":
        try:
            return NativeReloader()
        except OSError:
            pass
    return _django_get_reloader()


_django_get_reloader = autoreload.get_reloader
