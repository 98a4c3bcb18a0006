"""The ``descent`` subcommands (click), grouped by what a user does: train and inspect jobs,
check gradients, draw the notes' pictures, use a model, tune, run a server.

May import output, plots, connection, rpc and client.errors.
"""
