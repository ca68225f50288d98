"""An independent extension server of the gRPC contract, for the pipeline runner to feed.

Built only from the contract (code generated from proto/ by grpc_tools.protoc into GEN_DIR at test time).
Usage: grpc_server.py GEN_DIR [--hold FILE] [--tls CERT KEY]
Prints "PORT <n>" once it listens on 127.0.0.1 (with --tls: TLS with that certificate and key). Each sample is answered by one classification that reports what
arrived (the descriptor's format, the transfer, whether the frame matches the format, the call's metadata), except
every third sample, answered with no inferences (the gRPC form of HTTP 204). With --hold, no sample is answered
before that file exists (a slow extension). A contract violation ends the stream with INVALID_ARGUMENT.
"""
import argparse
import mmap
import os
import sys
import time
from concurrent import futures

ARGS = argparse.ArgumentParser()
ARGS.add_argument("gen")
ARGS.add_argument("--hold")
ARGS.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
args = ARGS.parse_args()
sys.path.insert(0, args.gen)

import grpc  # noqa: E402

import extension_pb2  # noqa: E402
import extension_pb2_grpc  # noqa: E402
import inferencing_pb2  # noqa: E402
import media_pb2  # noqa: E402

HOLD_FILE = args.hold
Format = media_pb2.VideoFrameSampleFormat


def check(sample_format, frame):
    """Whether the frame is what the descriptor announced: a whole JPEG, or stride x height bytes of BGR24."""
    if sample_format.encoding == Format.JPG:
        return "ok" if frame[:2] == b"\xff\xd8" and frame[-2:] == b"\xff\xd9" else "not a whole JPEG"
    if sample_format.encoding == Format.RAW and sample_format.pixel_format == Format.BGR24:
        expected = sample_format.stride_bytes * sample_format.dimensions.height
        return "ok" if len(frame) == expected else f"{len(frame)} bytes, expected {expected}"
    return "unchecked"


class Extension(extension_pb2_grpc.MediaGraphExtensionServicer):
    def ProcessMediaStream(self, request_iterator, context):
        metadata = dict(context.invocation_metadata())
        first = next(request_iterator)
        if first.WhichOneof("payload") != "media_stream_descriptor" or first.sequence_number != 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be the descriptor, number 1")
        descriptor = first.media_stream_descriptor
        sample_format = descriptor.media_descriptor.video_frame_sample_format
        shm = None
        if descriptor.HasField("shared_memory_buffer_transfer_properties"):
            props = descriptor.shared_memory_buffer_transfer_properties
            with open(os.path.join("/dev/shm", props.handle_name), "rb") as f:
                shm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            if len(shm) != props.length_bytes:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"file of {len(shm)} bytes, descriptor says {props.length_bytes}")
        ours = 1
        yield extension_pb2.MediaStreamMessage(
            sequence_number=ours,
            ack_sequence_number=1,
            media_stream_descriptor=extension_pb2.MediaStreamDescriptor(extension_identifier="python-peer"),
        )
        expected = 2
        for message in request_iterator:
            if message.sequence_number != expected:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"sample {message.sequence_number}, expected {expected}")
            expected += 1
            sample = message.media_sample
            if sample.WhichOneof("content") == "content_reference":
                ref = sample.content_reference
                if shm is None or ref.address_offset + ref.length_bytes > len(shm):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "reference outside the shared memory")
                frame = shm[ref.address_offset:ref.address_offset + ref.length_bytes]
                transfer = f"sharedMemory@{ref.address_offset}"
            else:
                frame = sample.content_bytes.bytes
                transfer = "embedded"
            while HOLD_FILE is not None and not os.path.exists(HOLD_FILE):
                time.sleep(0.005)
            ours += 1
            answer = extension_pb2.MediaSample(timestamp=sample.timestamp)
            if message.sequence_number % 3 != 1:
                facts = {
                    "encoding": Format.Encoding.Name(sample_format.encoding),
                    "pixelFormat": Format.PixelFormat.Name(sample_format.pixel_format),
                    "dimensions": f"{sample_format.dimensions.width}x{sample_format.dimensions.height}",
                    "strideBytes": str(sample_format.stride_bytes),
                    "timescale": str(descriptor.media_descriptor.timescale),
                    "transfer": transfer,
                }
                if sample_format.encoding == Format.RAW:
                    facts["length"] = str(len(frame))
                facts.update({
                    "check": check(sample_format, frame),
                    "configuration": descriptor.extension_configuration,
                    "node": f"{descriptor.graph_identifier.graph_instance_name}/{descriptor.graph_identifier.graph_node_name}",
                    "authentication": metadata.get("x-ms-authentication", ""),
                })
                answer.inferences.append(inferencing_pb2.Inference(
                    type=inferencing_pb2.Inference.CLASSIFICATION,
                    subtype="received",
                    classification=inferencing_pb2.Classification(
                        tag=inferencing_pb2.Tag(value=f"sample{message.sequence_number}", confidence=0.5),
                        attributes=[inferencing_pb2.Attribute(name=k, value=v) for k, v in facts.items()],
                    ),
                ))
            yield extension_pb2.MediaStreamMessage(
                sequence_number=ours, ack_sequence_number=message.sequence_number, media_sample=answer,
            )


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
extension_pb2_grpc.add_MediaGraphExtensionServicer_to_server(Extension(), server)
if args.tls is None:
    port = server.add_insecure_port("127.0.0.1:0")
else:
    with open(args.tls[0], "rb") as cert, open(args.tls[1], "rb") as key:
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key.read(), cert.read())]))
server.start()
print(f"PORT {port}", flush=True)
server.wait_for_termination()
