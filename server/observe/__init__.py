"""What the server tells its operators: one event line per job event, the log format,
Prometheus metrics, and each job's TensorBoard event files.

May import only the ground (and, outside server/, proto and formats).
"""
