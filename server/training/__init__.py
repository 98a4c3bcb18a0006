"""Running a training job from PENDING to a terminal state.

The runner, placement of a job's workers on the cluster, supervision (replacing dead
workers), elastic jobs (growing and shrinking while they train), the training methods (gradient workers, numerical gradient, searches),
housekeeping (checkpoints, lease, adoption), the curve and the final evaluation.
May import analyses, jobs, state, params, cluster, observe and the ground; never rpc.
"""
