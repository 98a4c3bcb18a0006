"""What the commands print: protocol messages as the ``--json`` objects, the human-readable
text made from them, progress bars, and atomic writes of files.

May import rpc (to follow a job) and client.errors.
"""
