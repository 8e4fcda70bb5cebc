"""Write a Java agent jar whose premain does nothing: ``python3 noop_agent.py OUT.jar``.

LocalStack starts DynamoDB Local with ``-javaagent:ddb-local-loader-0.1.jar``, an agent it downloads from its own
artifact repository (not a package registry) that patches DynamoDB Local to allow more than 20 global secondary
indexes per table. This project's tables have at most two, so an agent that does nothing keeps everything else
identical and nothing is downloaded at run time. The class file is written directly (no JDK needed in the image):
a public class ``SmmuNoopAgent`` with ``public static void premain(String, Instrumentation) { return; }``.
"""

import struct
import sys
import zipfile

CLASS = "SmmuNoopAgent"


def utf8(text: str) -> bytes:
    data = text.encode()
    return b"\x01" + struct.pack(">H", len(data)) + data


def class_file() -> bytes:
    pool = [
        b"\x07" + struct.pack(">H", 2),  # 1: Class -> 2
        utf8(CLASS),  # 2
        b"\x07" + struct.pack(">H", 4),  # 3: Class -> 4
        utf8("java/lang/Object"),  # 4
        utf8("premain"),  # 5
        utf8("(Ljava/lang/String;Ljava/lang/instrument/Instrumentation;)V"),  # 6
        utf8("Code"),  # 7
    ]
    code = struct.pack(">HHI", 0, 2, 1) + b"\xb1" + struct.pack(">HH", 0, 0)  # max_stack, max_locals, `return`
    method = struct.pack(">HHHH", 0x0009, 5, 6, 1) + struct.pack(">HI", 7, len(code)) + code  # public static
    return (
        b"\xca\xfe\xba\xbe"
        + struct.pack(">HHH", 0, 52, len(pool) + 1)  # class file version 52 (Java 8): no stack map frames needed
        + b"".join(pool)
        + struct.pack(">HHHHHH", 0x0021, 1, 3, 0, 0, 1)  # public super; this, super; no interfaces, no fields
        + method
        + struct.pack(">H", 0)  # no class attributes
    )


def main(out: str) -> None:
    with zipfile.ZipFile(out, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\r\nPremain-Class: {CLASS}\r\n\r\n")
        jar.writestr(f"{CLASS}.class", class_file())


if __name__ == "__main__":
    main(sys.argv[1])
