"""Rewrapping a gRPC method handler: its behaviour, and a handler of the same kind around a new one.

The server's interceptors (server.rpc.decoding, server.rpc.metrics_interceptor) each replace a method's
behaviour with a wrapper and must rebuild a handler of the same kind (unary or streaming on
each side) with the same serializers; this is the one table of those four kinds.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc

_KINDS = {
    (False, False): (grpc.unary_unary_rpc_method_handler, "unary_unary"),
    (False, True): (grpc.unary_stream_rpc_method_handler, "unary_stream"),
    (True, False): (grpc.stream_unary_rpc_method_handler, "stream_unary"),
    (True, True): (grpc.stream_stream_rpc_method_handler, "stream_stream"),
}


def behavior(handler: grpc.RpcMethodHandler) -> Callable:
    """The handler's servicer function, whatever its kind."""
    return getattr(handler, _KINDS[(handler.request_streaming, handler.response_streaming)][1])


def rebuild(handler: grpc.RpcMethodHandler, wrapped: Callable, request_deserializer=None) -> grpc.RpcMethodHandler:
    """A handler of ``handler``'s kind running ``wrapped``, with its serializers (or this deserializer)."""
    make = _KINDS[(handler.request_streaming, handler.response_streaming)][0]
    return make(
        wrapped,
        request_deserializer=request_deserializer or handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
