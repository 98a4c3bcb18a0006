"""``python -m server.rpc.healthcheck [HOST:PORT]``: exit 0 if the server's gRPC health service says SERVING.

For container healthchecks; the address defaults to localhost:$DESCENT_PORT (50051). The health
service needs no token; with ``$DESCENT_TLS_CA`` set the check speaks TLS, verified against that CA.
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(argv: list[str]) -> int:
    address = argv[0] if argv else f"localhost:{os.environ.get('DESCENT_PORT', '50051')}"
    ca = os.environ.get("DESCENT_TLS_CA")
    try:
        if ca:
            with open(ca, "rb") as f:
                channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(f.read()))
        else:
            channel = grpc.insecure_channel(address)
        with channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.RpcError as error:
        print(f"unhealthy: {address}: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"unhealthy: cannot read DESCENT_TLS_CA {ca}: {error}", file=sys.stderr)
        return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print(f"{address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}")
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
