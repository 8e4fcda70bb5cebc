"""Transcription with real Whisper weights (base, multilingual; tiny.en for the second backend) on speech
synthesised at test time, both backends."""

import json
import os
import re
import signal
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from smmu_stack.devkit import worker_media as media
from workers.errors import TaskCancelled, WorkerError, error_name
from workers.transcribe import audio
from workers.transcribe.engine import NOTE_NO_AUDIO, NOTE_NO_SPEECH, NOTE_SILENT, Transcriber
from workers.transcribe.formats import Segment, timestamp, to_srt, to_vtt
from workers.transcribe.isolated import IsolatedBackend
from workers.transcribe.settings import TranscribeSettings
from workers.transcribe.worker import transcribe

MAX_WER = 0.30
GERMAN = "Guten Morgen. Heute sprechen wir darüber, wie Computer gesprochene Sprache in geschriebenen Text verwandeln."
SRT_CUE = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n(.+)")
VTT_CUE = re.compile(r"(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(.+)")


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    cues = []
    for i, block in enumerate(blocks, 1):
        match = SRT_CUE.fullmatch(block.strip())
        assert match, f"not an SRT cue: {block!r}"
        assert int(match.group(1)) == i
        cues.append((seconds(match.group(2)), seconds(match.group(3)), match.group(4)))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n")
    header, _, body = text.partition("\n\n")
    assert all(":" in line for line in header.split("\n")[1:]), header  # header lines are "Name: value"
    blocks = [b for b in body.strip().split("\n\n") if b.strip()]
    cues = []
    for block in blocks:
        match = VTT_CUE.fullmatch(block.strip())
        assert match, f"not a WebVTT cue: {block!r}"
        cues.append((seconds(match.group(1)), seconds(match.group(2)), match.group(3)))
    return cues


# -- pure parts --------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_timestamps_and_cues():
    assert timestamp(3723.4567, ",") == "01:02:03,457"
    assert timestamp(0, ".") == "00:00:00.000"
    segments = [Segment(0.0, 1.5, " Hello  there\n\nfriend "), Segment(1.5, 1.5, "a --> b"), Segment(2.0, 3.0, " ")]
    srt = to_srt(segments)
    assert parse_srt(srt) == [(0.0, 1.5, "Hello there friend"), (1.5, 1.501, "a -> b")]
    assert parse_vtt(to_vtt(segments)) == [(0.0, 1.5, "Hello there friend"), (1.5, 1.501, "a -> b")]
    assert to_srt([]) == "" and to_vtt([]) == "WEBVTT\n\n"


def _write_wav(path, samples: np.ndarray, rate: int = audio.SAMPLE_RATE):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.mark.unit
def test_chunks_cut_at_the_quiet_moment_and_cover_everything(tmp_path):
    rate = audio.SAMPLE_RATE
    t = np.arange(rate * 25) / rate
    samples = 0.5 * np.sin(2 * np.pi * 220 * t)
    samples[int(8.5 * rate) : int(8.7 * rate)] = 0.0  # a pause just before the 10 s chunk boundary
    wav = _write_wav(tmp_path / "tone.wav", samples)
    pieces = list(audio.chunks(wav, chunk_seconds=10, search_seconds=3))
    offsets = [offset for offset, _ in pieces]
    assert 8.5 <= offsets[1] <= 8.7
    assert sum(piece.size for _, piece in pieces) == samples.size
    assert all(piece.size <= 10 * rate for _, piece in pieces)
    assert audio.loudest_dbfs(wav) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)
    assert audio.loudest_dbfs(_write_wav(tmp_path / "zero.wav", np.zeros(rate))) == float("-inf")


# -- with the model ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faster(tmp_path_factory):
    return Transcriber(TranscribeSettings(whisper_backend="faster-whisper"))


@pytest.fixture(scope="module")
def openai(tmp_path_factory):
    cache = tmp_path_factory.mktemp("whisper-cache")
    # tiny.en: converting base for the reference backend would double the module's time for no more coverage.
    return Transcriber(
        TranscribeSettings(whisper_backend="openai-whisper", whisper_model="tiny.en", whisper_cache_dir=str(cache))
    )


@pytest.fixture(params=["faster", "openai"])
def transcriber(request):
    return request.getfixturevalue(request.param)


@pytest.mark.integration
@pytest.mark.parametrize("source", ["speech", "speech_video"])
def test_speech_is_transcribed_with_timed_captions(files, tmp_path, runner, transcriber, source):
    artifacts, transcript = transcribe(files[source], tmp_path / "out", runner, transcriber)
    assert media.wer(media.SENTENCE, transcript.text) <= MAX_WER, transcript.text
    assert transcript.language == "en" and transcript.note is None
    by_kind = {a.kind: a for a in artifacts}
    assert set(by_kind) == {"transcript", "subtitles_srt", "subtitles_vtt"}
    document = json.loads(by_kind["transcript"].path.read_text())
    assert document["text"] == transcript.text
    assert document["segments"] and all(
        s["start"] < s["end"] <= document["duration_seconds"] + 0.5 for s in document["segments"]
    )
    srt = parse_srt(by_kind["subtitles_srt"].path.read_text())
    vtt = parse_vtt(by_kind["subtitles_vtt"].path.read_text())
    assert [c[2] for c in srt] == [c[2] for c in vtt] == [s["text"] for s in document["segments"]]
    assert media.wer(media.SENTENCE, " ".join(c[2] for c in srt)) <= MAX_WER
    assert [c[0] for c in srt] == sorted(c[0] for c in srt)
    assert by_kind["subtitles_vtt"].content_type == "text/vtt"


@pytest.mark.integration
def test_words_are_timed_in_order_inside_the_clip(files, tmp_path, runner, faster):
    artifacts, _ = transcribe(files["speech"], tmp_path / "out", runner, faster)
    document = json.loads(next(a for a in artifacts if a.kind == "transcript").path.read_text())
    words = [w for s in document["segments"] for w in s["words"]]
    assert media.wer(media.SENTENCE, "".join(w["word"] for w in words)) <= MAX_WER
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    assert all(0 <= w["start"] <= w["end"] <= document["duration_seconds"] + 0.01 for w in words)
    assert all(0 <= w["probability"] <= 1 for w in words)
    for segment in document["segments"]:  # each segment's words lie within it and spell its text
        assert segment["start"] - 0.01 <= segment["words"][0]["start"]
        assert segment["words"][-1]["end"] <= segment["end"] + 0.01
        assert "".join(w["word"] for w in segment["words"]).strip() == segment["text"]


@pytest.mark.integration
def test_the_language_is_detected_and_named_in_the_captions(tmp_path, runner, faster):
    german = media.speech(tmp_path / "de.wav", GERMAN, voice="de")
    artifacts, transcript = transcribe(german, tmp_path / "out", runner, faster)
    assert transcript.language == "de" and transcript.language_probability > 0.5
    # Whisper base hears espeak-ng's German first sentences right and garbles its last long words.
    assert "Guten Morgen" in transcript.text and "Heute sprechen wir" in transcript.text, transcript.text
    vtt = next(a for a in artifacts if a.kind == "subtitles_vtt").path.read_text()
    assert vtt.startswith("WEBVTT\nLanguage: de\n\n")
    # Told the language, the model does not detect it: a wrong hint is followed (the uploader knows best).
    _, told = transcribe(german, tmp_path / "told", runner, faster, language="en")
    assert told.language == "en"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("source", "note"),
    [("silence", NOTE_SILENT), ("no_audio", NOTE_NO_AUDIO), ("tone", NOTE_NO_SPEECH)],
)
def test_no_speech_gives_an_empty_transcript_with_a_note(files, tmp_path, runner, transcriber, source, note):
    artifacts, transcript = transcribe(files[source], tmp_path / "out", runner, transcriber)
    assert transcript.text == "" and transcript.segments == [] and transcript.note == note
    by_kind = {a.kind: a for a in artifacts}
    assert json.loads(by_kind["transcript"].path.read_text())["note"] == note
    assert parse_srt(by_kind["subtitles_srt"].path.read_text()) == []
    assert parse_vtt(by_kind["subtitles_vtt"].path.read_text()) == []


@pytest.mark.integration
def test_long_audio_is_transcribed_in_chunks_with_continuous_timing(files, tmp_path, runner, faster):
    # Three repetitions with pauses, transcribed 8 s at a time: every repetition is heard, times keep rising.
    wav = tmp_path / "long.wav"
    media.ffmpeg(
        "-i", str(files["speech"]), "-af", "apad=pad_dur=1.5", "-ar", "16000", "-ac", "1", str(tmp_path / "one.wav")
    )
    media.ffmpeg(*(["-i", str(tmp_path / "one.wav")] * 3), "-filter_complex", "concat=n=3:v=0:a=1", str(wav))
    small = Transcriber(faster.settings.model_copy(update={"transcribe_chunk_seconds": 8.0}), backend=faster.backend)
    _, transcript = transcribe(wav, tmp_path / "out", runner, small)
    assert media.wer(" ".join([media.SENTENCE] * 3), transcript.text) <= MAX_WER, transcript.text
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments[-1].end > 2 * transcript.duration_seconds / 3


@pytest.mark.integration
def test_both_backends_agree(files, faster, openai):
    wav_dir = files["speech"].parent / "both"
    wav_dir.mkdir(exist_ok=True)
    wav = wav_dir / "speech16k.wav"
    media.ffmpeg("-i", str(files["speech"]), "-ar", "16000", "-ac", "1", str(wav))
    a, b = faster.transcribe_wav(wav), openai.transcribe_wav(wav)
    assert (a.backend, b.backend) == ("faster-whisper", "openai-whisper")
    assert media.wer(a.text, b.text) <= 0.15, (a.text, b.text)


@pytest.mark.integration
def test_converted_checkpoint_matches_openai_whisper_layout(tmp_path):
    import torch
    import whisper

    from workers.transcribe.convert import convert
    from workers.transcribe.engine import packaged_model

    path = convert(Path(packaged_model("tiny.en", tmp_path) or ""), tmp_path / "tiny_en.pt")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert checkpoint["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    missing, unexpected = model.load_state_dict(checkpoint["model_state_dict"], strict=False)
    assert missing == [] and unexpected == []
    assert not model.is_multilingual


# -- the model in a child process ----------------------------------------------------------------------------


#: About 80 s of speech: several of Whisper's 30 s windows, so a segment is reported while most of the work is
#: still ahead (a clip within one window reports its first segment only when it is nearly done).
REPEATS = 16


def _long_speech(files, tmp_path: Path, repeats: int) -> Path:
    """The test sentence ``repeats`` times as one 16 kHz WAV: long enough that decoding takes many seconds."""
    wav = tmp_path / "long.wav"
    media.ffmpeg(
        *(["-i", str(files["speech"])] * repeats),
        "-filter_complex",
        f"concat=n={repeats}:v=0:a=1",
        "-ar",
        "16000",
        "-ac",
        "1",
        str(wav),
    )
    return wav


@pytest.mark.integration
def test_a_cancel_kills_the_whisper_process_at_once_and_the_next_task_gets_a_fresh_one(files, tmp_path, faster):
    backend = faster.backend
    assert isinstance(backend, IsolatedBackend)  # the default: the worker's model lives in a child process
    first_pid = backend.pid
    wav = _long_speech(files, tmp_path, REPEATS)
    cancelled = threading.Event()
    decoding = threading.Event()
    stopped_at: list[float] = []

    def cancel_once_decoding() -> None:
        decoding.wait(120)
        stopped_at.append(time.monotonic())
        cancelled.set()

    canceller = threading.Thread(target=cancel_once_decoding)
    canceller.start()
    with pytest.raises(TaskCancelled):
        faster.transcribe_wav(wav, cancelled, progress=lambda percent: decoding.set())
    latency = time.monotonic() - stopped_at[0]
    canceller.join()
    # In process, the cancel waited for the 30 s window being decoded (seconds); killed, it is one poll.
    assert latency < 1.0, f"stopped {latency:.2f} s after the cancel"
    assert backend.pid is None and not _alive(first_pid)
    # The next task starts a new child and transcribes as before.
    again = faster.transcribe_wav(_sixteen_k(files, tmp_path))
    assert media.wer(media.SENTENCE, again.text) <= MAX_WER and backend.pid not in (None, first_pid)


@pytest.mark.integration
def test_a_whisper_process_that_dies_fails_the_task_as_retryable_and_is_replaced(files, tmp_path, faster):
    backend = faster.backend
    wav = _long_speech(files, tmp_path, REPEATS)
    decoding = threading.Event()

    def kill_once_decoding() -> None:
        decoding.wait(120)
        os.kill(backend.pid, signal.SIGKILL)  # as the kernel's OOM killer would

    killer = threading.Thread(target=kill_once_decoding)
    killer.start()
    with pytest.raises(WorkerError, match="the Whisper process died") as raised:
        faster.transcribe_wav(wav, progress=lambda percent: decoding.set())
    killer.join()
    assert error_name(raised.value) == "WorkerError"  # retried by the state machine
    assert media.wer(media.SENTENCE, faster.transcribe_wav(_sixteen_k(files, tmp_path)).text) <= MAX_WER


def _sixteen_k(files, tmp_path: Path) -> Path:
    wav = tmp_path / "speech16k.wav"
    if not wav.exists():
        media.ffmpeg("-i", str(files["speech"]), "-ar", "16000", "-ac", "1", str(wav))
    return wav


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.integration
def test_a_model_that_cannot_load_stops_the_worker_at_start_with_the_reason(tmp_path):
    # Loaded when the worker starts (not at its first task): an empty folder is no CTranslate2 model.
    with pytest.raises(WorkerError, match=f"the Whisper process could not load {tmp_path}: .*model"):
        Transcriber(TranscribeSettings(whisper_model=str(tmp_path)))
