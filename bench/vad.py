"""Voice activity detection on speech with long pauses: the transcribe worker's engine with and without VAD.

Builds a recording of short spoken sentences (espeak-ng) separated by long pauses of quiet room noise, then
transcribes it with the worker's own ``Transcriber`` (faster-whisper, the configured model) twice per setting:
``SMMU_WHISPER_VAD`` on (Silero VAD: only speech reaches Whisper) and off (Whisper decodes every 30 s window,
and its no-speech check decides what to keep). Reports the real-time factor (processing seconds per audio second,
median of the runs, model loaded beforehand), the word error rate of each against the script, and whether the
two transcripts are the same.

    python bench/vad.py [--sentences 6] [--pause 12] [--runs 2] [--model base]
"""

import argparse
import statistics
import tempfile
import time
import wave
from pathlib import Path

from smmu_stack.devkit import worker_media as media
from workers.transcribe.engine import Transcriber
from workers.transcribe.settings import TranscribeSettings

SENTENCES = [
    "Hello and welcome to the show.",
    "Today we talk about how computers turn speech into written text.",
    "The weather will be sunny in the morning with a light breeze from the west.",
    "Please remember to bring your notes to the meeting on Thursday afternoon.",
    "Our next guest has spent ten years building recording studios.",
    "Thank you for listening and see you again next week.",
]


def recording(root: Path, sentences: list[str], pause: float) -> Path:
    """The sentences with ``pause`` seconds before each, over quiet pink noise (a room, not digital silence)."""
    speech = media.speech_with_pauses(root / "speech.wav", sentences, pause_seconds=pause)
    path = root / "talk.wav"
    media.ffmpeg(
        "-i", str(speech), "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.004:sample_rate=16000",
        "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0", "-ar", "16000", "-ac", "1",
        "-c:a", "pcm_s16le", str(path),
    )  # fmt: skip
    return path


def seconds_of(wav: Path) -> float:
    with wave.open(str(wav), "rb") as handle:
        return handle.getnframes() / handle.getframerate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=6)
    parser.add_argument("--pause", type=float, default=12.0, help="seconds of pause before each sentence")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--model", default="", help="SMMU_WHISPER_MODEL (default: the worker's default)")
    args = parser.parse_args()
    sentences = (SENTENCES * (1 + args.sentences // len(SENTENCES)))[: args.sentences]
    script = " ".join(sentences)
    with tempfile.TemporaryDirectory() as tmp:
        wav = recording(Path(tmp), sentences, args.pause)
        duration = seconds_of(wav)
        results = {}
        for vad in (True, False):
            transcriber = Transcriber(TranscribeSettings(whisper_model=args.model, whisper_vad=vad))
            times, text = [], ""
            for _ in range(args.runs):
                started = time.perf_counter()
                text = transcriber.transcribe_wav(wav).text
                times.append(time.perf_counter() - started)
            results[vad] = (statistics.median(times), text)
    print(f"audio: {duration:.1f} s, {args.sentences} sentences, {args.pause:.0f} s pause before each; "
          f"model {transcriber.model_label}, {args.runs} runs each (median)")  # fmt: skip
    for vad, (elapsed, text) in results.items():
        label = "VAD on " if vad else "VAD off"
        print(f"{label}  {elapsed:6.2f} s  RTF {elapsed / duration:.3f}  WER vs script {media.wer(script, text):.2f}")
    (on, on_text), (off, off_text) = results[True], results[False]
    print(f"speed-up with VAD: {off / on:.2f}x")
    print(f"transcripts identical: {on_text == off_text}; WER between them: {media.wer(on_text, off_text):.2f}")
    if on_text != off_text:
        print(f"  VAD on : {on_text}\n  VAD off: {off_text}")


if __name__ == "__main__":
    main()
