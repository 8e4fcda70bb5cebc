"""Media worker benchmark: the workers against the raw tools, Whisper backends, and memory against input length.

For generated files (a 1280x720 clip with a spoken soundtrack, and 640x360 clips of two lengths) it measures

1. transcode: the worker service end to end (SQS task, S3 download, FFmpeg, probes, upload, answer to Step
   Functions, on the embedded cloud) and the worker's processing alone, against the very same FFmpeg command
   lines run directly;
2. transcribe: the worker service end to end against faster-whisper called directly on the file (model loaded
   beforehand in both);
3. the real-time factor (processing seconds per audio second) of faster-whisper and openai-whisper with the
   same model (Whisper base, the default);
4. the peak resident memory of each worker process (and of the largest FFmpeg it ran) for a short and a long
   input: it must not grow with the input's length.

    python bench/media_workers.py [--short 60] [--long 600] [--skip-openai]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from smmu_stack.devkit import free_port
from smmu_stack.devkit import worker_media as media
from smmu_stack.devkit.worker_pipeline import Moto, Pipeline, stop
from workers import process
from workers.transcode.settings import TranscodeSettings
from workers.transcode.worker import transcode
from workers.transcribe import audio
from workers.transcribe.engine import Transcriber, default_model
from workers.transcribe.settings import TranscribeSettings

REPO_ROOT = Path(__file__).resolve().parent.parent

LINES = (
    "Hello and welcome to the show. Today we talk about how computers turn speech into written text. "
    "The weather will be sunny in the morning with a light breeze from the west. "
    "Please remember to bring your notes to the meeting on Thursday afternoon."
)


def make_inputs(root: Path, short: float, long: float) -> dict[str, Path]:
    speech = media.speech(root / "speech.wav", LINES)
    files = {}
    for name, size, rate, seconds in (
        ("hd", "1280x720", 30, short),
        ("short", "640x360", 15, short),
        ("long", "640x360", 15, long),
    ):
        path = root / f"{name}.mp4"
        media.ffmpeg(
            "-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}", "-stream_loop", "-1", "-i", str(speech),
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path),
        )  # fmt: skip
        files[name] = path
    return files


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


class PeakMemory(threading.Thread):
    """Samples a process's resident memory and its children's (psutil) until stopped; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.worker_peak = 0
        self.tool_peak = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            try:
                self.worker_peak = max(self.worker_peak, self.process.memory_info().rss)
                for child in self.process.children(recursive=True):
                    self.tool_peak = max(self.tool_peak, child.memory_info().rss)
            except psutil.Error:
                continue


def worker_run(pipeline: Pipeline, module: str, source: Path, log: Path, **env: str) -> tuple[float, float, float]:
    """One task through a fresh worker process: (seconds from StartExecution to SUCCEEDED, peak RSS of the
    worker process, peak RSS of the largest tool it ran), in MiB."""
    job = pipeline.new_job(source.read_bytes(), media_type="video", filename=source.name)
    worker = pipeline.start_worker(module, log, SMMU_WORKER_MAX_TASKS="1", **env)
    sampler = PeakMemory(worker.pid)
    sampler.start()
    try:
        _log_lines(log, wait_for="worker ready", proc=worker)
        started = time.perf_counter()
        described = pipeline.wait(pipeline.start(job), timeout=3600)
        elapsed = time.perf_counter() - started
        worker.wait(120)
    finally:
        sampler.halt.set()
        stop(worker)
    if described["status"] != "SUCCEEDED":
        raise SystemExit(f"{module} failed: {described}\n{log.read_text()[-3000:]}")
    return elapsed, sampler.worker_peak / 2**20, sampler.tool_peak / 2**20


def _log_lines(log: Path, wait_for: str | None = None, proc=None) -> list[dict]:
    deadline = time.monotonic() + 120
    while True:
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")] if log.exists() else []
        if wait_for is None or any(line.get("message") == wait_for for line in lines):
            return lines
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise SystemExit(f"worker did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def bench_transcode(pipeline: Pipeline, source: Path, work: Path, settings: TranscodeSettings) -> dict:
    # The worker's processing alone, recording the exact command lines it runs.
    commands: list[list[str]] = []
    out = work / "transcode-handler"

    def run(args: list[str], name: str) -> Path:
        commands.append(args)
        log = out.parent / f"{name}.log"
        process.run(args, log_path=log)
        return log

    handler_s, _ = timed(transcode, source, out / "out", run, settings)
    # The same command lines, run directly.
    raw_s = 0.0
    for args in commands:
        seconds, _ = timed(subprocess.run, args, check=True, stdin=subprocess.DEVNULL)
        raw_s += seconds
    service_s, _, _ = worker_run(pipeline, "workers.transcode", source, work / "transcode-service.log")
    return {"raw": raw_s, "handler": handler_s, "service": service_s, "commands": len(commands)}


def direct_faster_whisper(source: str) -> dict:
    """faster-whisper called directly on the file, with the worker's options (model warm: one run first)."""
    from faster_whisper import WhisperModel

    settings = TranscribeSettings()
    model = WhisperModel(default_model(), device="cpu", compute_type="int8")

    def run() -> str:
        segments, _ = model.transcribe(source, beam_size=settings.whisper_beam_size, vad_filter=True,
                                       condition_on_previous_text=False)  # fmt: skip
        return " ".join(s.text for s in segments)

    run()
    seconds, text = timed(run)
    return {"seconds": seconds, "words": len(text.split())}


def backend_rtf(backend: str, wav: str, cache: str) -> dict:
    """One backend through the worker's Transcriber on a 16 kHz WAV (warm: one run first)."""
    transcriber = Transcriber(TranscribeSettings(whisper_backend=backend, whisper_cache_dir=cache))
    transcriber.transcribe_wav(Path(wav))
    seconds, transcript = timed(transcriber.transcribe_wav, Path(wav))
    return {"seconds": seconds, "words": len(transcript.text.split())}


CHILDREN = {"direct": direct_faster_whisper, "rtf": backend_rtf}


def in_child(name: str, *args: str) -> dict:
    """Run a measurement in a fresh process, as the worker runs (no other model's threads competing)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_transcribe(pipeline: Pipeline, source: Path, work: Path, skip_openai: bool) -> dict:
    raw = in_child("direct", str(source))
    service_s, _, _ = worker_run(pipeline, "workers.transcribe", source, work / "transcribe-service.log")
    wav = work / "speech16k.wav"
    process.run(audio.extract_args(source, wav, audio_index=1), log_path=work / "extract.log")
    seconds_of_audio = audio_seconds(wav)
    rtf = {}
    for backend in ("faster-whisper", "openai-whisper"):
        if backend == "openai-whisper" and skip_openai:
            continue
        measured = in_child("rtf", backend, str(wav), str(work / "cache"))
        rtf[backend] = (measured["seconds"] / seconds_of_audio, measured["words"])
    return {"raw": raw["seconds"], "service": service_s, "rtf": rtf, "audio_seconds": seconds_of_audio}


def audio_seconds(wav: Path) -> float:
    import wave

    with wave.open(str(wav), "rb") as handle:
        return handle.getnframes() / handle.getframerate()


def bench_memory(pipeline_for, files: dict[str, Path], work: Path) -> dict:
    results = {}
    for worker in ("transcode", "transcribe"):
        pipeline = pipeline_for(worker)
        for length in ("short", "long"):
            elapsed, peak, tool = worker_run(
                pipeline, f"workers.{worker}", files[length], work / f"{worker}-{length}.log"
            )
            results[(worker, length)] = (peak, tool, elapsed)
    return results


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](*sys.argv[3:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=60.0, help="length of the short inputs, seconds")
    parser.add_argument("--long", type=float, default=600.0, help="length of the long input, seconds")
    parser.add_argument("--skip-openai", action="store_true", help="do not measure openai-whisper")
    parser.add_argument("--only", default="transcode,transcribe,memory", help="comma-separated sections to run")
    args = parser.parse_args()
    sections = set(args.only.split(","))

    from smmu_stack.embedded.cloud import EmbeddedCloud

    tc = tr = mem = None
    with tempfile.TemporaryDirectory(prefix="smmu-bench-") as tmp:
        work = Path(tmp)
        print(f"generating inputs ({args.short:.0f} s 720p, {args.short:.0f} s and {args.long:.0f} s 360p) ...",
              flush=True)  # fmt: skip
        files = make_inputs(work, args.short, args.long)
        cloud = EmbeddedCloud(port=free_port(), work_dir=work / "cloud")
        cloud.start()
        try:
            moto = Moto(cloud)
            pipelines = {}

            def pipeline_for(worker: str) -> Pipeline:
                if worker not in pipelines:
                    pipelines[worker] = Pipeline(moto, worker, heartbeat=60)
                return pipelines[worker]

            if "transcode" in sections:
                print("transcode ...", flush=True)
                tc = bench_transcode(pipeline_for("transcode"), files["hd"], work, TranscodeSettings())
            if "transcribe" in sections:
                print("transcribe ...", flush=True)
                tr = bench_transcribe(pipeline_for("transcribe"), files["hd"], work, args.skip_openai)
            if "memory" in sections:
                print("memory ...", flush=True)
                mem = bench_memory(pipeline_for, files, work)
        finally:
            cloud.stop()

    rows = []
    if tc:
        rows += [
            (f"transcode {args.short:.0f} s 720p: FFmpeg command lines run directly", f"{tc['raw']:.2f} s"),
            ("transcode: worker processing (probes + same commands)", f"{tc['handler']:.2f} s"),
            ("transcode: worker service end to end (S3, SQS, SFN)", f"{tc['service']:.2f} s"),
            ("transcode ratio: processing / raw", f"{tc['handler'] / tc['raw']:.2f}x"),
            ("transcode ratio: service / raw", f"{tc['service'] / tc['raw']:.2f}x"),
        ]
    if tr:
        rows += [
            (f"transcribe {tr['audio_seconds']:.0f} s: faster-whisper called directly", f"{tr['raw']:.2f} s"),
            ("transcribe: worker service end to end (S3, SQS, SFN)", f"{tr['service']:.2f} s"),
            ("transcribe ratio: service / direct", f"{tr['service'] / tr['raw']:.2f}x"),
        ]
        rtf = tr["rtf"]
        for backend, (factor, words) in rtf.items():
            rows.append((f"real-time factor, {backend} ({words} words)", f"{factor:.3f}"))
        if len(rtf) == 2:
            ratio = rtf["openai-whisper"][0] / rtf["faster-whisper"][0]
            rows.append(("openai-whisper / faster-whisper time", f"{ratio:.1f}x"))
    if mem:
        for (worker, length), (peak, tool, elapsed) in mem.items():
            seconds = args.short if length == "short" else args.long
            label = f"{worker} {seconds:.0f} s 360p"
            rows.append((f"{label}: worker peak RSS / largest tool RSS", f"{peak:.0f}/{tool:.0f} MiB"))
            rows.append((f"{label}: service time", f"{elapsed:.1f} s"))
        for worker in ("transcode", "transcribe"):
            short, long = mem[(worker, "short")][0], mem[(worker, "long")][0]
            rows.append((f"{worker}: worker peak RSS growth, long vs short", f"{(long - short):+.0f} MiB"))
    print()
    print(f"{'measure':58} {'value':>14}")
    print("-" * 73)
    for name, value in rows:
        print(f"{name:58} {value:>14}")


if __name__ == "__main__":
    main()
