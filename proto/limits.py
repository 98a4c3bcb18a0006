"""gRPC channel and server options shared by both ends of every connection.

gRPC's default 4 MiB message limit is too small for a large W or a float64
batch, so both ends set the same explicit limit. Both ends also send keepalive
pings (every 30 s, 10 s to answer, also between calls), so a peer that vanished
without closing its connection — a killed worker, a dropped network — is noticed
and its calls end instead of holding a server thread forever; each end accepts
the other's pings at that rate.
"""

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: A W or gradient larger than this crosses PushStream as several messages (proto.wire).
STREAM_CHUNK_BYTES = 64 * 1024 * 1024
KEEPALIVE_MS = 30_000

GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", KEEPALIVE_MS),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_MS // 3),
]
