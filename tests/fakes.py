"""Stand-ins that tests hand to server code in place of Ray."""

from __future__ import annotations


class Objects:
    """An in-process object store for the data cache (Ray's keeps values the same way: put once, read-only views)."""

    def __init__(self):
        self.values = []

    def put(self, value):
        self.values.append(value)
        return len(self.values) - 1

    def get(self, ref):
        view = self.values[ref].view()
        view.flags.writeable = False
        return view
