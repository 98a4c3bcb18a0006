"""descent workers: the notes' math, the data, and what a Ray worker task runs.

Layers, top first (tests/unit/test_layers.py holds them):

    task/     the training loop a Ray task runs and how its arrays travel (the only part that
              imports proto)
    svm.py    the multiclass SVM as the notes write it (naive loop, vectorized), and kernel.py,
              the tuned kernel of the hot path, tested equal; numgrad.py, fdiff.py, checks.py,
              verdict.py (numerical gradients and the gradient check); sweep.py, minibatch.py,
              landscape.py, search.py (the notes' other experiments); compress.py (gradient
              compression of the push path: fp16, int8, top-k with error feedback). Pure numpy.
    data/     splits, preprocessing, batches, a training split in blocks of rows

May import proto (task/ only) and formats; never grpc (outside task/), ray, server or client.
"""
