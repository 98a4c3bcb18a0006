"""The notes' analyses run for a client: gradient check, step-size sweep, minibatch, landscape,
and a finished job used as a model (export, predict, evaluate).

May import jobs, state, params, cluster, observe and the ground; never rpc or training.
"""
