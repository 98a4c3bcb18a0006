"""Pure numpy file formats shared by worker, server and client: data set readers, input files, the model file.

Depends on numpy only (the bundled digits are a file in the package; Pillow for PNG is
an optional extra, imported lazily: formats.extras), so the client can read what the server reads without importing
worker or server.
"""
