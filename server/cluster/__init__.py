"""Ray: the launcher (the only place besides the local start and the node health check that
imports ``ray``), the lean local start, the reaper, the node watch, and the data cache in
Ray's object store.

May import observe and the ground.
"""
