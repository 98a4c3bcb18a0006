"""The gRPC edge: the two servicers, auth, interceptors, request rules, and the status table.

The only package of the server that knows gRPC status codes (``status.py`` maps domain
errors to them). Servicer methods decode a request, call the layers below and encode the
answer. May import every other package of server/.
"""
