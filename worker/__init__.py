"""descent workers: the SVM math (svm), numerical gradients (numgrad), data sets (data).

Pure numpy: nothing here imports grpc, ray, proto, server or client, except actor.py
(the Ray actor), which is not imported by this package.
"""
