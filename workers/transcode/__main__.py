import sys

from workers.runtime import run_worker
from workers.transcode.worker import SPEC

sys.exit(run_worker(SPEC))
