"""Reaching a server: the command's configuration from flags and env, an embedded server
started for one command, and the session that picks one or the other.

May import rpc and client.errors.
"""
