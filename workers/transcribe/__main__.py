import sys

from workers.runtime import run_worker
from workers.transcribe.worker import SPEC

sys.exit(run_worker(SPEC))
