import pytest

from smmu.errors import TypeMismatchError, UnsupportedMediaError
from smmu.media_types import MediaType, canonical, detect, is_allowed
from tests import media

pytestmark = pytest.mark.unit


def test_detects_jpeg_by_content():
    found = detect(media.jpeg()[:8192], "image/jpeg")
    assert found.media_type is MediaType.IMAGE
    assert found.content_type == "image/jpeg"


def test_aliases_are_the_same_format():
    assert detect(media.wav()[:8192], "audio/x-wav").media_type is MediaType.AUDIO
    assert canonical("image/JPG; charset=binary") == "image/jpeg"


def test_text_declared_as_jpeg_is_unsupported():
    with pytest.raises(UnsupportedMediaError, match="not a recognised image, audio or video format"):
        detect(b"hello, this is not a picture\n" * 20, "image/jpeg")


def test_png_declared_as_jpeg_is_a_mismatch():
    with pytest.raises(TypeMismatchError, match="declared as image/jpeg but the content is image/png"):
        detect(media.png_with_alpha()[:8192], "image/jpeg")


def test_recognised_but_unaccepted_format():
    with pytest.raises(UnsupportedMediaError, match="application/pdf"):
        detect(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "image/jpeg")


def test_allow_list():
    assert is_allowed("video/mp4")
    assert is_allowed("audio/mp3")
    assert not is_allowed("application/x-sh")
    assert not is_allowed("text/plain")
