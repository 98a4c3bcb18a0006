"""What the server tells its operators: one event line per job event, the log format, and
Prometheus metrics.

May import only the ground.
"""
