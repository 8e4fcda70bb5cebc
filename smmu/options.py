"""Per-upload processing options: what a client may choose for one file, and the limits its choices must keep.

``ProcessingOptions`` travels from ``POST /v1/uploads`` to the job (stored, shown in the job view), into the
execution input (``options``) and from there to every step that uses it: ProcessImage (thumbnail widths and
formats), Transcode (ladder rungs, HLS) and Transcribe (whether to run at all, the spoken language). A field left
out (None) means the deployment's default, so a job created before options existed behaves as it always did.

The model checks what holds everywhere (types, formats, language codes); ``limit_problems`` checks a choice
against this deployment's limits (settings), so the API can answer 422 naming the option before anything is
stored.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smmu.settings import Settings

ThumbnailFormat = Literal["jpeg", "webp", "avif"]

#: The languages Whisper knows (ISO 639-1, plus "haw" and "yue" as Whisper names them).
WHISPER_LANGUAGES: frozenset[str] = frozenset(
    # One string, split: a hundred codes as a list literal would take a hundred lines.
    (  # noqa: SIM905
        "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la "
        "mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be "
        "tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su yue"
    ).split()
)
AUTO = "auto"


class ProcessingOptions(BaseModel):
    """What to make from one upload. Every field is optional; None (or left out) means the default."""

    # Frozen and tolerant of unknown fields, like every message (smmu.contracts): an older stage accepts a newer
    # sender's options. The API's request model (api.schemas.UploadOptions) is the strict one.
    model_config = ConfigDict(extra="ignore", frozen=True)

    thumbnail_widths: list[int] | None = Field(
        default=None,
        min_length=1,
        description="Image thumbnails: their widths in pixels (never wider than the image). Default: the "
        "deployment's (160, 320, 640).",
        examples=[[200, 800]],
    )
    thumbnail_formats: list[ThumbnailFormat] | None = Field(
        default=None,
        min_length=1,
        description="Image thumbnails: the formats to write, each width in each. Default: JPEG (WebP for pictures "
        "with transparency).",
        examples=[["webp"]],
    )
    ladder: list[int] | None = Field(
        default=None,
        min_length=1,
        description="Video: the rungs of the rendition ladder (the picture's short side, e.g. 720 for 720p), none "
        "larger than the source. Default: the deployment's ladder.",
        examples=[[720, 360]],
    )
    hls: bool = Field(default=True, description="Video: make HLS playlists and segments besides the MP4s")
    transcribe: bool = Field(default=True, description="Audio and video: transcribe the speech (JSON, SRT, VTT)")
    language: str = Field(
        default=AUTO,
        description="The spoken language (ISO 639-1, e.g. 'en'), or 'auto' to detect it",
        examples=["en"],
    )

    @field_validator("thumbnail_widths", "ladder")
    @classmethod
    def _distinct(cls, values: list[int] | None) -> list[int] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("values must be distinct")
        return values

    @field_validator("thumbnail_formats")
    @classmethod
    def _distinct_formats(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("formats must be distinct")
        return values

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        value = value.strip().lower()
        if value != AUTO and value not in WHISPER_LANGUAGES:
            raise ValueError("language must be 'auto' or an ISO 639-1 code Whisper knows (e.g. 'en', 'de')")
        return value

    def is_default(self) -> bool:
        return self == ProcessingOptions()


class OptionProblem(ValueError):
    """An option outside this deployment's limits; ``option`` names it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"options.{option}: {message}")
        self.option = option
        self.message = message


def limit_problems(options: ProcessingOptions, settings: Settings) -> list[OptionProblem]:
    """Every way ``options`` goes beyond the deployment's limits; [] when it keeps them."""
    problems = []
    low, high = settings.option_thumbnail_width_min, settings.option_thumbnail_width_max
    if options.thumbnail_widths is not None:
        if len(options.thumbnail_widths) > settings.option_thumbnail_widths_max:
            problems.append(
                OptionProblem(
                    "thumbnail_widths",
                    f"{len(options.thumbnail_widths)} widths; at most {settings.option_thumbnail_widths_max}",
                )
            )
        wrong = [w for w in options.thumbnail_widths if not low <= w <= high]
        if wrong:
            problems.append(OptionProblem("thumbnail_widths", f"widths {wrong} are outside {low}..{high} pixels"))
    if options.ladder is not None:
        allowed = sorted(settings.option_ladder_rungs, reverse=True)
        wrong = [r for r in options.ladder if r not in allowed]
        if wrong:
            problems.append(OptionProblem("ladder", f"rungs {wrong} are not offered; choose from {allowed}"))
    return problems
