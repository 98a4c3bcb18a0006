"""Pure numpy file formats shared by worker, server and client: data set readers, input files, the model file.

Depends on numpy only (scikit-learn for the bundled digits, Pillow for PNG, both
imported lazily), so the client can read what the server reads without importing
worker or server.
"""
