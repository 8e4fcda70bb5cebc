"""Container healthcheck: ``healthcheck.py URL [MARKER_FILE]``.

Healthy (exit 0) when URL answers with a 2xx status within 4 seconds and, if given, MARKER_FILE exists.
Standard library only, so it costs a bare interpreter start, not an import of boto3.
"""

import sys
import urllib.request
from pathlib import Path


def main(argv: list[str]) -> int:
    url, marker = argv[0], (argv[1] if len(argv) > 1 else None)
    if marker and not Path(marker).exists():
        print(f"not ready: {marker} missing")
        return 1
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if 200 <= response.status < 300 else 1
    except Exception as exc:
        print(f"not ready: {url}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
