"""What the extra image formats and the fingerprint cost per job, and what an exact duplicate saves.

Part 1 (no stack): for each source picture, the median time of the processing code on a local file with JPEG
only (what a job cost before WebP/AVIF), with JPEG + WebP, and with JPEG + WebP + AVIF; the placeholder and
perceptual hash alone; and, for comparison, plain Pillow and plain libvips doing the same work the obvious way
(decode per format). Also the bytes of each format at the largest width.

Part 2 (--e2e; starts its own embedded stack): upload complete -> COMPLETED for a photo processed the first time
and for identical re-uploads (completed from the first job's outputs).

    python bench/image_formats.py --repeats 5 --e2e
"""

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pyvips
from PIL import Image, ImageOps

from lambdas.process_image.thumbnails import (
    AVIF_QUALITY,
    JPEG_QUALITY,
    WEBP_QUALITY,
    fingerprint,
    make_thumbnails,
    open_image,
)
from smmu_stack.devkit import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "images"
WIDTHS = (160, 320, 640)
PILLOW_FORMATS = {"jpeg": ("JPEG", {"quality": JPEG_QUALITY}), "webp": ("WEBP", {"quality": WEBP_QUALITY}),
                  "avif": ("AVIF", {"quality": AVIF_QUALITY, "speed": 9})}  # fmt: skip


def photo(width: int, height: int) -> bytes:
    """A photo-like JPEG (gradients and noise compress like a real picture, unlike a flat colour)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40)
    image = Image.merge("RGB", (gradient, noise, ImageOps.invert(gradient)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def median_ms(work: Callable[[], object], repeats: int) -> float:
    work()  # warm: codec initialisation is a cold start's cost, not a job's
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def ours(path: Path, formats: tuple[str, ...]) -> Callable[[], object]:
    def run() -> object:
        with open_image(path, 80_000_000) as image:
            return make_thumbnails(image, WIDTHS, formats)

    return run


def pillow_plain(path: Path, formats: tuple[str, ...]) -> Callable[[], object]:
    """Naive Pillow: decode at full size, resize to each width from the full picture, save each format."""

    def run() -> object:
        image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        for width in WIDTHS:
            resized = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
            for fmt in formats:
                name, options = PILLOW_FORMATS[fmt]
                resized.save(io.BytesIO(), name, **options)
        return None

    return run


def vips_plain(path: Path, formats: tuple[str, ...]) -> Callable[[], object]:
    """Plain libvips the usual way: one thumbnail call (one decode) per width and format."""
    savers = {
        "jpeg": lambda im: im.jpegsave_buffer(Q=JPEG_QUALITY, keep="none"),
        "webp": lambda im: im.webpsave_buffer(Q=WEBP_QUALITY, keep="none"),
        "avif": lambda im: im.heifsave_buffer(compression="av1", Q=AVIF_QUALITY, effort=0, bitdepth=8, keep="none"),
    }

    def run() -> object:
        for width in WIDTHS:
            for fmt in formats:
                savers[fmt](pyvips.Image.thumbnail(str(path), width, height=10_000_000))
        return None

    return run


def part_one(repeats: int) -> None:
    sources: dict[str, bytes] = {"generated 3000x2000 JPEG": photo(3000, 2000)}
    for name in ("arrow.heic", "xiaomi.heic", "rot1mir0.avif"):
        sources[name] = (FIXTURES / name).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        for label, data in sources.items():
            path = Path(tmp) / label.replace(" ", "_")
            path.write_bytes(data)
            with open_image(path, 80_000_000) as image:
                size = f"{image.width}x{image.height} {image.format}"
                vips_reads = image.format != "HEIF"
            jpeg = median_ms(ours(path, ("jpeg",)), repeats)
            webp = median_ms(ours(path, ("jpeg", "webp")), repeats)
            full = median_ms(ours(path, ("jpeg", "webp", "avif")), repeats)
            smallest = Image.new("RGB", (160, 120))
            hashes = median_ms(lambda picture=smallest: fingerprint(picture), repeats)
            naive1 = median_ms(pillow_plain(path, ("jpeg",)), repeats)
            naive3 = median_ms(pillow_plain(path, ("jpeg", "webp", "avif")), repeats)
            line = (
                f"{label:26} {size:18} ours: jpeg {jpeg:6.0f}  +webp {webp:6.0f}  +avif {full:6.0f} ms "
                f"(extra formats +{full - jpeg:4.0f} ms)  fingerprint {hashes:3.0f} ms | "
                f"plain Pillow: jpeg {naive1:6.0f}  3 formats {naive3:6.0f} ms"
            )
            if vips_reads:
                v1 = median_ms(vips_plain(path, ("jpeg",)), repeats)
                v3 = median_ms(vips_plain(path, ("jpeg", "webp", "avif")), repeats)
                line += f" | plain libvips: jpeg {v1:5.0f}  3 formats {v3:5.0f} ms"
            print(line)
            with open_image(path, 80_000_000) as image:
                largest = [r for r in make_thumbnails(image, WIDTHS) if r.width == max(WIDTHS)]
            print(" " * 26 + f" bytes at {largest[0].width} px: " + ", ".join(
                f"{r.extension} {len(r.data) / 1024:.1f} KiB" for r in largest))  # fmt: skip


def completion(api: str, key: str, data: bytes, filename: str, content_type: str) -> tuple[float, dict]:
    with httpx.Client(base_url=api, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client:
        created = client.post(
            "/v1/uploads", json={"filename": filename, "content_type": content_type, "size_bytes": len(data)}
        ).json()
        upload = created["upload"]
        files = {"file": (filename, data, content_type)}
        httpx.post(upload["url"], data=upload["fields"], files=files).raise_for_status()
        uploaded_at = time.time()
        while True:
            job = client.get(f"/v1/jobs/{created['job_id']}").json()
            if job["status"] in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.05)
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"job failed: {job['error']}")
    done = datetime.fromisoformat(job["completed_at"].replace("Z", "+00:00")).timestamp()
    return done - uploaded_at, job


def part_two(repeats: int) -> None:
    api_port, emulator_port = free_port(), free_port()
    work_dir = Path(tempfile.mkdtemp(prefix="smmu-bench-"))
    stack = subprocess.Popen(
        [sys.executable, "-m", "smmu_stack.cli", "dev", "--api-port", str(api_port),
         "--emulator-port", str(emulator_port), "--work-dir", str(work_dir),
         "--set", "SMMU_RATE_LIMIT_REQUESTS=10000"],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{api}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        key = (work_dir / "api-key").read_text().strip()
        completion(api, key, photo(800, 600), "warm.jpg", "image/jpeg")  # warm the functions
        for name, content_type in (("xiaomi.heic", "image/heic"), ("rot1mir0.avif", "image/avif")):
            data = (FIXTURES / name).read_bytes()
            first, job = completion(api, key, data, name, content_type)
            step = next(e["duration_ms"] for e in job["timeline"] if e["step"] == "ProcessImage")
            again = [completion(api, key, data, name, content_type) for _ in range(repeats)]
            assert all(j["duplicate_of"] == job["job_id"] for _, j in again)
            dup_step = statistics.median(
                next(e["duration_ms"] for e in j["timeline"] if e["step"] == "ProcessImage") for _, j in again
            )
            print(f"{name:14} upload -> COMPLETED: first {first * 1000:5.0f} ms (ProcessImage {step:5.0f} ms); "
                  f"identical re-upload median {statistics.median(t for t, _ in again) * 1000:5.0f} ms, "
                  f"max {max(t for t, _ in again) * 1000:5.0f} ms (ProcessImage {dup_step:4.0f} ms), "
                  f"n={repeats}")  # fmt: skip
    finally:
        stack.terminate()
        stack.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--e2e", action="store_true", help="Also time duplicates through an embedded stack")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, Pillow {Image.__version__}, libvips {pyvips.version(0)}."
          f"{pyvips.version(1)}.{pyvips.version(2)}; widths {WIDTHS}; medians of {args.repeats}")  # fmt: skip
    part_one(args.repeats)
    if args.e2e:
        part_two(args.repeats)


if __name__ == "__main__":
    main()
