"""Message classes built at run time from the FileDescriptorSet the C# tests write (no protoc for Python here)."""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def load(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    factory = message_factory.MessageFactory(pool)

    def message(name):
        return factory.GetPrototype(pool.FindMessageTypeByName(name))

    return message


def method(channel, path, kind, request_cls, response_cls):
    make = {"unary": channel.unary_unary, "server": channel.unary_stream,
            "client": channel.stream_unary, "bidi": channel.stream_stream}[kind]
    return make(path, request_serializer=request_cls.SerializeToString, response_deserializer=response_cls.FromString)
