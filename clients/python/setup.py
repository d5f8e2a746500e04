"""pregon's Python client: `pip install clients/python` (from the checkout: the protobuf module
is generated from ../../proto/pregon.proto with protoc at build time; Debian's
protobuf-compiler). Offline, or on Debian's system Python: `pip install --no-build-isolation`."""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.environ.get("PREGON_PROTO", os.path.join(HERE, "..", "..", "proto", "pregon.proto"))


class BuildWithProto(build_py):
    """Generates pregon/pregon_pb2.py from pregon.proto before the usual build."""

    def run(self):
        proto = os.path.abspath(PROTO)
        if not os.path.exists(proto):
            raise SystemExit("pregon.proto not found at %s (set PREGON_PROTO)" % proto)
        subprocess.check_call(["protoc", "--python_out=" + os.path.join(HERE, "pregon"),
                               "-I", os.path.dirname(proto), proto])
        super().run()


setup(
    name="pregon",
    version="0.1.0",
    description="Client of pregon, the debt-collection dispatch broker: submit and events",
    packages=["pregon"],
    python_requires=">=3.9",
    install_requires=["pyzmq", "protobuf>=3.12"],
    cmdclass={"build_py": BuildWithProto},
)
