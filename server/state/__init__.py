"""Durable state in the server's state directory: the SQLite job database (WAL, leases) and
each job's files beside it (checkpoints, results), written atomically.

May import params (to read and write a store's checkpointable state), observe and the ground.
"""
