"""Transcode worker: an MP4 ladder, HLS, poster and thumbnails for video; normalised AAC/MP3 and a waveform
for audio. ``python -m workers.transcode``."""
