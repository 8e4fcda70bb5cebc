"""Transcode worker settings (``SMMU_TRANSCODE_*``)."""

from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.transcode.plan import DEFAULT_RUNGS


class TranscodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMMU_TRANSCODE_", extra="ignore")

    #: Ladder rungs (the picture's short side); none larger than the source is made.
    heights: tuple[int, ...] = DEFAULT_RUNGS
    x264_preset: str = "veryfast"
    crf: int = 23
    hls_segment_seconds: int = 4
    #: Make HLS (playlists and segments) besides the MP4s; an upload's options may turn it off.
    hls: bool = True
    thumbnails: int = 4
    thumbnail_width: int = 320
    #: FFmpeg threads per encode (0: FFmpeg decides).
    threads: int = 0
    audio_bitrate: int = 128_000
    #: Loudness normalisation of audio files (EBU R128 via loudnorm): integrated loudness, true peak, range.
    loudness_lufs: float = -16.0
    true_peak_db: float = -1.5
    loudness_range: float = 11.0
    waveform_size: str = "1200x240"
    waveform_color: str = "0x3b82f6"
    waveform_sample_rate: int = 4000
    #: Write the probed metadata to the media table (as ProcessImage does for images).
    write_media_table: bool = True
    #: HDR sources (PQ, HLG) are tone-mapped to SDR BT.709 with this curve (FFmpeg's tonemap filter).
    tonemap: str = "hable"
    #: The audio-only HLS rendition (for bad connections and listening in the background).
    audio_only_bitrate: int = 64_000
    #: Storyboard (scrubbing previews): a frame every this many seconds at least, at most this many frames
    #: (longer videos get sparser frames), this wide, laid out this many columns and rows per sprite sheet.
    storyboard: bool = True
    storyboard_interval_seconds: float = 1.0
    storyboard_max_frames: int = 200
    storyboard_tile_width: int = 160
    storyboard_columns: int = 10
    storyboard_rows: int = 10
    #: Animated GIFs: also a silent H.264 MP4 and an animated WebP, at most this long and this wide.
    animation_max_seconds: float = 60.0
    animation_max_width: int = 640
    animation_webp_quality: int = 70
