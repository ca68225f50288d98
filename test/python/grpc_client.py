"""An independent peer of the gRPC extension contract: streams frames to a server, prints its answers as JSON.

Built only from the contract (code generated from proto/ by grpc_tools.protoc into GEN_DIR at test time).
Usage: grpc_client.py GEN_DIR PORT JPEG_FILE SHM_NAME WIDTH HEIGHT OFFSET
Stream 1: a JPEG embedded in the sample. Stream 2: one BGR24 frame at OFFSET in /dev/shm/SHM_NAME.
"""
import json
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402

import extension_pb2  # noqa: E402
import extension_pb2_grpc  # noqa: E402
import media_pb2  # noqa: E402

port, jpeg_file, shm_name = sys.argv[2], sys.argv[3], sys.argv[4]
width, height, offset = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
Format = media_pb2.VideoFrameSampleFormat


def descriptor(sample_format, shm=None):
    d = extension_pb2.MediaStreamDescriptor(
        extension_configuration="/score",
        media_descriptor=media_pb2.MediaDescriptor(timescale=90000, video_frame_sample_format=sample_format),
    )
    if shm is not None:
        d.shared_memory_buffer_transfer_properties.CopyFrom(shm)
    return extension_pb2.MediaStreamMessage(sequence_number=1, media_stream_descriptor=d)


def run(stub, messages):
    return [
        MessageToDict(m, preserving_proto_field_name=False)
        for m in stub.ProcessMediaStream(iter(messages))
    ]


with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
    stub = extension_pb2_grpc.MediaGraphExtensionStub(channel)
    with open(jpeg_file, "rb") as f:
        jpeg = f.read()
    embedded = run(stub, [
        descriptor(Format(encoding=Format.JPG)),
        extension_pb2.MediaStreamMessage(
            sequence_number=2,
            media_sample=extension_pb2.MediaSample(timestamp=1000, content_bytes=media_pb2.ContentBytes(bytes=jpeg)),
        ),
    ])
    raw = Format(
        encoding=Format.RAW,
        pixel_format=Format.BGR24,
        dimensions=media_pb2.Dimensions(width=width, height=height),
        stride_bytes=width * 3,
    )
    shm = extension_pb2.SharedMemoryBufferTransferProperties(handle_name=shm_name, length_bytes=offset + width * height * 3)
    shared = run(stub, [
        descriptor(raw, shm),
        extension_pb2.MediaStreamMessage(
            sequence_number=2,
            media_sample=extension_pb2.MediaSample(
                timestamp=2000,
                content_reference=media_pb2.ContentReference(address_offset=offset, length_bytes=width * height * 3),
            ),
        ),
    ])
print(json.dumps({"embedded": embedded, "shared": shared}))
