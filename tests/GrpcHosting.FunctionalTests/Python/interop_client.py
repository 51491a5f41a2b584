"""grpcio (C core) calling the C# server: prints one JSON object with what each case observed."""
import json
import sys

import grpc

from protos import load, method

port, descriptors = sys.argv[1], sys.argv[2]
message = load(descriptors)
EchoRequest = message("transformation.testing.v1.EchoRequest")
EchoResponse = message("transformation.testing.v1.EchoResponse")
CountdownRequest = message("transformation.testing.v1.CountdownRequest")
CountdownResponse = message("transformation.testing.v1.CountdownResponse")
SumRequest = message("transformation.testing.v1.SumRequest")
SumResponse = message("transformation.testing.v1.SumResponse")
Status = message("google.rpc.Status")
BadRequest = message("google.rpc.BadRequest")
HealthCheckRequest = message("grpc.health.v1.HealthCheckRequest")
HealthCheckResponse = message("grpc.health.v1.HealthCheckResponse")
ReflectionRequest = message("grpc.reflection.v1.ServerReflectionRequest")
ReflectionResponse = message("grpc.reflection.v1.ServerReflectionResponse")
from google.protobuf.descriptor_pb2 import FileDescriptorProto  # noqa: E402

SERVICE = "/transformation.testing.v1.TestService/"
MIB4 = 4 * 1024 * 1024
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"

results = {}


def case(name):
    def run(fn):
        try:
            results[name] = fn()
        except grpc.RpcError as e:
            results[name] = {"code": e.code().name, "message": e.details()}
        except Exception as e:  # report, never hide, a failure of the script itself
            results[name] = {"error": repr(e)}
    return run


def rpc_error(fn):
    try:
        fn()
        return {"code": "OK"}
    except grpc.RpcError as e:
        return {"code": e.code().name, "message": e.details(), "trailers": {k: (v.hex() if isinstance(v, bytes) else v) for k, v in (e.trailing_metadata() or [])}, "error": e}


channel = grpc.insecure_channel(f"127.0.0.1:{port}")
gzip_channel = grpc.insecure_channel(f"127.0.0.1:{port}", compression=grpc.Compression.Gzip)
echo = method(channel, SERVICE + "Echo", "unary", EchoRequest, EchoResponse)
countdown = method(channel, SERVICE + "Countdown", "server", CountdownRequest, CountdownResponse)
total = method(channel, SERVICE + "Sum", "client", SumRequest, SumResponse)
chat = method(channel, SERVICE + "Chat", "bidi", EchoRequest, EchoResponse)


@case("unary")
def _():
    return {"text": echo(EchoRequest(text="hello"), timeout=10).text}


@case("metadata")
def _():
    response, call = echo.with_call(EchoRequest(text="m"), timeout=10, metadata=[
        ("x-text", "plain value"), ("x-data-bin", b"\x00\x01\xfe\xff"),
        ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")])
    initial = dict(call.initial_metadata())
    trailing = dict(call.trailing_metadata())
    return {"header_text": initial.get("x-text"), "header_bin": initial.get("x-data-bin", b"").hex(),
            "trailer_text": trailing.get("x-text"), "trailer_bin": trailing.get("x-data-bin", b"").hex(),
            "trace_id": response.trace_id, "parent_span_id": response.parent_span_id, "code": call.code().name}


@case("server_streaming")
def _():
    indexes = [r.index for r in countdown(CountdownRequest(count=100, payload_size=10), timeout=10)]
    return {"count": len(indexes), "first": indexes[0], "last": indexes[-1]}


@case("client_streaming")
def _():
    response = total(iter([SumRequest(value=v) for v in range(1, 101)]), timeout=10)
    return {"total": response.total, "count": response.count}


@case("bidi")
def _():
    texts = [r.text for r in chat(iter([EchoRequest(text=f"m{i}") for i in range(10)]), timeout=10)]
    return {"texts": texts}


@case("deadline")
def _():
    return {k: v for k, v in rpc_error(lambda: echo(EchoRequest(delay_ms=10_000), timeout=0.3)).items() if k != "error"}


@case("deadline_ignored")
def _():
    # The handler sleeps without looking at its token; the server still ends the call at the deadline.
    request = EchoRequest(ignore_cancellation_ms=3_000, marker="python-ignored-deadline")
    return {k: v for k, v in rpc_error(lambda: echo(request, timeout=0.3)).items() if k != "error"}


@case("near_limit")
def _():
    response = echo(EchoRequest(payload=b"\x07" * (MIB4 - 64)), timeout=30)
    return {"payload_size": response.payload_size}


@case("over_limit")
def _():
    return {k: v for k, v in rpc_error(lambda: echo(EchoRequest(payload=b"\x07" * (MIB4 + 1)), timeout=30)).items() if k != "error"}


@case("gzip")
def _():
    gzip_echo = method(gzip_channel, SERVICE + "Echo", "unary", EchoRequest, EchoResponse)
    response = gzip_echo(EchoRequest(payload=b"\x00" * 100_000, response_size=50_000), timeout=10)
    return {"payload_size": response.payload_size, "request_encoding": response.request_encoding, "response_payload": len(response.payload)}


@case("status")
def _():
    outcome = rpc_error(lambda: echo(EchoRequest(fail_code=5, fail_message="nicht gefunden: 100% – ü"), timeout=10))
    return {"code": outcome["code"], "message": outcome["message"]}


@case("bad_request")
def _():
    outcome = rpc_error(lambda: echo(EchoRequest(validate=True), timeout=10))
    details = dict(outcome["error"].trailing_metadata()).get("grpc-status-details-bin")
    status = Status.FromString(details)
    violations = []
    for any_detail in status.details:
        if any_detail.type_url == "type.googleapis.com/google.rpc.BadRequest":
            bad = BadRequest.FromString(any_detail.value)
            violations += [{"field": v.field, "description": v.description} for v in bad.field_violations]
    return {"code": outcome["code"], "message": outcome["message"], "status_code": status.code,
            "status_message": status.message, "violations": violations}


@case("crash")
def _():
    outcome = rpc_error(lambda: echo(EchoRequest(crash=True), timeout=10))
    return {"code": outcome["code"], "message": outcome["message"]}


@case("unknown_method")
def _():
    nope = method(channel, SERVICE + "Nope", "unary", EchoRequest, EchoResponse)
    return {k: v for k, v in rpc_error(lambda: nope(EchoRequest(), timeout=10)).items() if k != "error"}


@case("unknown_service")
def _():
    nope = method(channel, "/nope.v1.Nothing/Echo", "unary", EchoRequest, EchoResponse)
    return {k: v for k, v in rpc_error(lambda: nope(EchoRequest(), timeout=10)).items() if k != "error"}


@case("health")
def _():
    check = method(channel, "/grpc.health.v1.Health/Check", "unary", HealthCheckRequest, HealthCheckResponse)
    overall = check(HealthCheckRequest(service=""), timeout=10).status
    service = check(HealthCheckRequest(service="transformation.testing.v1.TestService"), timeout=10).status
    unknown = rpc_error(lambda: check(HealthCheckRequest(service="nope.v1.Nothing"), timeout=10))["code"]
    watch = method(channel, "/grpc.health.v1.Health/Watch", "server", HealthCheckRequest, HealthCheckResponse)
    stream = watch(HealthCheckRequest(service=""), timeout=10)
    first = next(stream).status
    stream.cancel()
    name = HealthCheckResponse.DESCRIPTOR.enum_types_by_name["ServingStatus"].values_by_number
    return {"overall": name[overall].name, "service": name[service].name, "unknown": unknown, "watch_first": name[first].name}


def reflect(version, requests):
    info = method(channel, f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo", "bidi", ReflectionRequest, ReflectionResponse)
    return list(info(iter(requests), timeout=10))


@case("reflection")
def _():
    out = {}
    for version in ("v1", "v1alpha"):
        listed, by_symbol, by_method, missing = reflect(version, [
            ReflectionRequest(list_services="*"),
            ReflectionRequest(file_containing_symbol="transformation.testing.v1.TestService"),
            ReflectionRequest(file_containing_symbol="transformation.testing.v1.TestService.Echo"),
            ReflectionRequest(file_containing_symbol="nope.Nothing")])
        files = [FileDescriptorProto.FromString(b) for b in by_symbol.file_descriptor_response.file_descriptor_proto]
        out[version] = {
            "services": sorted(s.name for s in listed.list_services_response.service),
            "file": files[0].name, "service_in_file": [s.name for s in files[0].service],
            "method_file": FileDescriptorProto.FromString(by_method.file_descriptor_response.file_descriptor_proto[0]).name,
            "missing_error": missing.error_response.error_code}
    return out


print(json.dumps(results))
