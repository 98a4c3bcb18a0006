"""descent workers: the SVM math (svm), numerical gradients (numgrad), data sets (data).

Pure numpy: nothing here imports grpc, ray, proto, server or client, except loop.py and
wire.py (the training loop a Ray task runs, and how its arrays travel), which this package
does not import.
"""
