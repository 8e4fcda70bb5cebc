"""Upload benchmark: one large file through `smmu upload` (API + S3 multipart, SHA-256 per part, parallel parts)
against `aws s3 cp` (the AWS CLI's multipart upload) to the same emulator on loopback.

Starts its own embedded stack (no media workers: the file is random bytes, which validation refuses at once)
with the emulator's checks on, as the tests run it. The AWS CLI is not a project dependency: pass its path
(`pip install awscli` into any virtual environment).

    python bench/uploads.py --size-mib 1024 --aws /path/to/venv/bin/aws
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from smmu_stack.devkit import free_port  # noqa: E402


def start_stack(work_dir: Path) -> tuple[subprocess.Popen, str, str, str]:
    api_port, emulator_port = free_port(), free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    log = (work_dir / "stack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "smmu_stack.cli", "dev", "--no-workers", "--api-port", str(api_port),
         "--emulator-port", str(emulator_port), "--work-dir", str(work_dir)],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"stack did not start; see {work_dir / 'stack.log'}")
        try:
            if httpx.get(f"{api}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return process, api, f"http://127.0.0.1:{emulator_port}", (work_dir / "api-key").read_text().strip()


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--aws", required=True, help="the AWS CLI executable")
    parser.add_argument("--runs", type=int, default=2, help="alternating runs of each; the best of each counts")
    parser.add_argument("--parallel", type=int, default=8, help="smmu upload --parallel")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="smmu-bench-") as tmp:
        work = Path(tmp)
        source = work / "big.bin"
        with source.open("wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(1024 * 1024))
        size = source.stat().st_size
        stack, api, endpoint, key = start_stack(work)
        try:
            env = {
                **os.environ,
                "SMMU_API_URL": api,
                "SMMU_API_KEY": key,
                "SMMU_UPLOAD_STATE": str(work / "resume.json"),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            smmu_cmd = [sys.executable, "-m", "smmu_stack.cli", "upload", str(source), "--json",
                        "--content-type", "video/mp4", "--parallel", str(args.parallel)]  # fmt: skip
            aws_cmd = [args.aws, "s3", "cp", str(source), "s3://smmu-raw/bench/big.bin", "--endpoint-url", endpoint,
                       "--no-progress"]  # fmt: skip
            smmu_times, aws_times = [], []
            for _ in range(args.runs):
                seconds, out = timed(smmu_cmd, env)
                transfer = json.loads(out)
                assert transfer["multipart"] and transfer["bytes_sent"] == size, transfer
                smmu_times.append(seconds)
                aws_times.append(timed(aws_cmd, env)[0])
            aws_version = subprocess.run([args.aws, "--version"], capture_output=True, text=True).stdout.strip()
        finally:
            stack.terminate()
            stack.wait(timeout=30)
    mib = size / 1024 / 1024
    best_smmu, best_aws = min(smmu_times), min(aws_times)
    print(f"file: {mib:.0f} MiB of random bytes; emulator on 127.0.0.1 (embedded, with S3's checks); {aws_version}")
    print(f"smmu upload (API + multipart, SHA-256 per part, {args.parallel} parts in flight): "
          f"{' '.join(f'{t:.1f}s' for t in smmu_times)}  best {mib / best_smmu:.0f} MiB/s")  # fmt: skip
    print(f"aws s3 cp (multipart, its defaults):   {' '.join(f'{t:.1f}s' for t in aws_times)}  "
          f"best {mib / best_aws:.0f} MiB/s")  # fmt: skip
    print(f"throughput ratio smmu / aws s3 cp: {best_aws / best_smmu:.2f}x")


if __name__ == "__main__":
    main()
