"""The parameter store of a job: W, its version and lock, the update rules, learning-rate
schedules, consistency modes, staleness, and the loss history. Pure in-process state: no I/O.

May import observe and the ground.
"""
