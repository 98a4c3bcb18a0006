"""The Trainer service's calls: the channel (token, TLS), the typed API over the stub, and
the request messages built from what a user gave. Imports proto, never the layers above.
"""
