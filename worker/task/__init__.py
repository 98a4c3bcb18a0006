"""What a Ray worker task runs: the training loop (pull, sample, gradient, push) and how its
arrays travel (inside gRPC messages or on a same-host shared-memory lane), with the malloc
settings that keep its buffers in the process. The only part of worker/ that imports proto.
"""
