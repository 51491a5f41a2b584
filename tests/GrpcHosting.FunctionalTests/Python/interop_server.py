"""A grpcio (C core) TestService for our client: prints its port, serves until stdin closes."""
import sys
import time
from concurrent import futures

import grpc

from protos import load

message = load(sys.argv[1])
EchoRequest = message("transformation.testing.v1.EchoRequest")
EchoResponse = message("transformation.testing.v1.EchoResponse")
CountdownRequest = message("transformation.testing.v1.CountdownRequest")
CountdownResponse = message("transformation.testing.v1.CountdownResponse")
SumRequest = message("transformation.testing.v1.SumRequest")
SumResponse = message("transformation.testing.v1.SumResponse")
Status = message("google.rpc.Status")
BadRequest = message("google.rpc.BadRequest")

# What the streaming handlers saw of each marked call ("started", then "cancelled"), for Echo(marker) to answer.
seen = {}


def echo(request, context):
    if request.marker:
        return EchoResponse(text=seen.get(request.marker, ""))
    echoed = [(k, v) for k, v in context.invocation_metadata() if k.startswith("x-")]
    context.send_initial_metadata(echoed)
    context.set_trailing_metadata(echoed)
    traceparent = dict(context.invocation_metadata()).get("traceparent", "")
    if request.validate and not request.text:
        bad = BadRequest()
        bad.field_violations.add(field="text", description="must not be empty")
        status = Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message="The request is invalid.")
        status.details.add(type_url="type.googleapis.com/google.rpc.BadRequest", value=bad.SerializeToString())
        context.set_trailing_metadata(echoed + [("grpc-status-details-bin", status.SerializeToString())])
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The request is invalid.")
    if request.fail_code:
        code = next(c for c in grpc.StatusCode if c.value[0] == request.fail_code)
        context.abort(code, request.fail_message)
    if request.delay_ms:
        deadline = time.time() + request.delay_ms / 1000
        while time.time() < deadline and context.is_active():
            time.sleep(0.01)
    encoding = dict(context.invocation_metadata()).get("grpc-encoding", "")
    return EchoResponse(text=request.text, payload_size=len(request.payload), payload=b"\x05" * request.response_size,
                        request_encoding=encoding, trace_id=traceparent.split("-")[1] if traceparent else "")


def countdown(request, context):
    finished = []
    if request.marker:
        # A cancelled stream may never resume this generator, so the end of the call tells.
        context.add_callback(lambda: finished or seen.__setitem__(request.marker, "cancelled"))
    for i in range(request.count, 0, -1):
        yield CountdownResponse(index=i, payload=b"\x01" * request.payload_size)
        if request.interval_ms:
            deadline = time.time() + request.interval_ms / 1000
            while time.time() < deadline and context.is_active():
                time.sleep(0.01)
            if not context.is_active():
                return
    finished.append(True)


def total(requests, context):
    values, marker = [], ""
    try:
        for r in requests:
            if r.marker:
                marker = r.marker
                seen[marker] = "started"
            values.append(r.value)
    except grpc.RpcError:
        pass  # the client cancelled
    if marker:
        # A reset may end the request stream as if it were complete before grpcio marks the call cancelled.
        deadline = time.time() + 5
        while context.is_active() and time.time() < deadline:
            time.sleep(0.01)
        if not context.is_active():
            seen[marker] = "cancelled"
    return SumResponse(total=sum(values), count=len(values))


def chat(requests, context):
    for r in requests:
        yield EchoResponse(text=r.text.upper())


handlers = {
    "Echo": grpc.unary_unary_rpc_method_handler(echo, EchoRequest.FromString, EchoResponse.SerializeToString),
    "Countdown": grpc.unary_stream_rpc_method_handler(countdown, CountdownRequest.FromString, CountdownResponse.SerializeToString),
    "Sum": grpc.stream_unary_rpc_method_handler(total, SumRequest.FromString, SumResponse.SerializeToString),
    "Chat": grpc.stream_stream_rpc_method_handler(chat, EchoRequest.FromString, EchoResponse.SerializeToString),
}
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), compression=grpc.Compression.Gzip,
                     options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("transformation.testing.v1.TestService", handlers)])
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
sys.stdin.read()
server.stop(0)
