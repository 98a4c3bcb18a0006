"""gRPC channel and server options shared by both ends of every connection.

gRPC's default 4 MiB message limit is too small for a large W or a float64
batch, so both ends set the same explicit limit.
"""

MAX_MESSAGE_BYTES = 256 * 1024 * 1024

GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]
