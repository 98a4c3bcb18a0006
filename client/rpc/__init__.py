"""The Trainer service's calls: the channel (token, TLS), the typed API over the stub, and
the request messages built from what a user gave.

May import proto and client.errors only, never the layers above.
"""
