"""The real workers as services (``python -m workers.transcode`` / ``workers.transcribe``) behind a task-token
state machine on the embedded cloud: upload in, outputs in the processed bucket, the answer in the execution."""

import json

import pytest

from smmu_stack.devkit import worker_media as media
from smmu_stack.devkit.worker_pipeline import Moto, Pipeline, stop

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto(cloud):
    return Moto(cloud)


def _run_one(pipeline, module, body, tmp_path, *, media_type, filename, **env):
    job = pipeline.new_job(body, media_type=media_type, filename=filename)
    worker = pipeline.start_worker(module, tmp_path / "worker.log", **env)
    try:
        described = pipeline.wait(pipeline.start(job), timeout=120)
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert described["status"] == "SUCCEEDED", (tmp_path / "worker.log").read_text()[-3000:]
    return job, json.loads(described["output"])["result"]


def test_transcode_service(moto, files, tmp_path):
    pipeline = Pipeline(moto, "transcode")
    job, result = _run_one(
        pipeline,
        "workers.transcode",
        files["small"].read_bytes(),
        tmp_path,
        media_type="video",
        filename="clip.mp4",
        SMMU_TRANSCODE_X264_PRESET="ultrafast",
    )
    prefix = f"jobs/{job['job_id']}/transcode/"
    outputs = {o["key"]: o for o in result["outputs"]}
    stored = pipeline.keys(prefix)
    assert set(outputs) <= stored
    assert {o["kind"] for o in outputs.values()} == {
        "video",
        "hls_master",
        "hls_playlist",
        "hls_audio_playlist",
        "poster",
        "thumbnail",
        "storyboard",
        "storyboard_sheet",
    }
    assert stored - set(outputs) == {k for k in stored if k.endswith(".ts")}  # segments: stored, not listed
    video = outputs[prefix + "video/240p.mp4"]
    assert (video["width"], video["height"], video["content_type"]) == (320, 240, "video/mp4")
    assert video["duration_seconds"] == pytest.approx(1.0, abs=0.2)
    head = pipeline.s3.head_object(Bucket=pipeline.processed_bucket, Key=prefix + "video/240p.mp4")
    assert head["ContentLength"] == video["size_bytes"] and head["ContentType"] == "video/mp4"
    assert result["media_type"] == "video" and result["media"]["video"]["width"] == 320
    assert result["hls"]["mpegts_start"] > 0  # where the captions are mapped onto (FFmpeg's TS clock starts late)
    item = pipeline.ddb.get_item(TableName=pipeline.media_table, Key={"job_id": {"S": job["job_id"]}})["Item"]
    assert item["media_type"]["S"] == "video"
    assert item["metadata"]["M"]["video"]["M"]["height"]["N"] == "240"


def test_transcribe_service(moto, files, tmp_path):
    pipeline = Pipeline(moto, "transcribe")
    job, result = _run_one(
        pipeline,
        "workers.transcribe",
        files["speech_video"].read_bytes(),
        tmp_path,
        media_type="video",
        filename="talk.mp4",
    )
    prefix = f"jobs/{job['job_id']}/transcribe/"
    assert pipeline.keys(prefix) == {prefix + name for name in ("transcript.json", "transcript.srt", "transcript.vtt")}
    summary = result["transcript"]
    assert summary["language"] == "en" and not summary["empty"] and summary["backend"] == "faster-whisper"
    document = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.processed_bucket, Key=prefix + "transcript.json")["Body"].read()
    )
    assert media.wer(media.SENTENCE, document["text"]) <= 0.30
