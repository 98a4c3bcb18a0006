"""Jobs: a job's spec (its hyperparameters, defaults and checks), the job and its state machine,
the registry of jobs over the durable database, and checkpoints.

May import state, params, cluster, observe and the ground.
"""
