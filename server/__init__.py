"""The descent parameter server: everything that runs in the server process.

Sub-packages by concern, from the edge down; a package imports only those below it
(tests/unit/test_layers.py holds it so):

    app.py, config.py, __main__.py   the composition root: flags and env → config → serve
    rpc/        the gRPC edge: servicers, auth, interceptors, request rules, status codes
    training/   runs a job: placement, supervision, training methods, housekeeping, curve
    analyses/   gradient check, sweep, minibatch, landscape, export, inference
    jobs/       a job's spec, the job, the registry, checkpoints
    state/      the SQLite job database and the files beside it
    params/     the parameter store: W, update rules, schedules, consistency, staleness
    cluster/    Ray: launch, local start, reaper, node watch, the data cache
    observe/    events, log lines, Prometheus metrics
    errors.py, limits.py, fields.py   the ground: plain domain errors, limits, field checks

Outside the package it may import proto/, worker/ and formats/, never client/.
"""
