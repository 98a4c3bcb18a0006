"""The ``descent`` command-line client.

It speaks only the protocol in ``proto/`` (the ``Trainer`` service); it never
imports ``server`` or ``worker``. With no server configured, a command starts a
local server as a subprocess (``python -m server``) for its own duration.
"""
