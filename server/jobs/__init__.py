"""Jobs: a job's spec (its hyperparameters, defaults and checks), the job and its state machine,
the registry of jobs over the durable database, checkpoints, and lineage (jobs continued from
others: what they inherit and where they start).

May import state, params, cluster, observe and the ground.
"""
