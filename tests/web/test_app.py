"""The web app in a real browser (Chromium) against the embedded stack: sign in, upload through the page, see jobs
complete live, look at the outputs, play the video, seek from the transcript, resume an upload after a reload."""

import base64
import os
import re
from pathlib import Path

import httpx
import pytest

from smmu_stack.devkit import worker_media
from tests import media
from tests.e2e.conftest import SMALL_PART

pytestmark = pytest.mark.browser

SENTENCE = "Hello and welcome to the show. Today we talk about how computers turn speech into written text."
LIVE = 180_000  # ms: a job's whole run, the first one loading Whisper


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def drop_file(page, name: str, mime: str, data: bytes) -> None:
    """What a drag-and-drop from the desktop hands the page: a drop event whose DataTransfer holds the file."""
    page.evaluate(
        """([name, mime, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const zone = document.getElementById("drop-zone");
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }
        }""",
        [name, mime, base64.b64encode(data).decode()],
    )


def uploaded(app, name: str) -> str:
    """Wait for the page to finish uploading ``name`` (100 %); its job id."""
    row = app.page.locator("#uploads li").filter(has=app.page.locator(".filename", has_text=name))
    expect()(row).to_have_attribute("data-state", "done")
    expect()(row.locator(".percent")).to_have_text("100 %")
    href = row.locator("a", has_text="Open job").get_attribute("href")
    return re.fullmatch(r"#/jobs/([0-9a-f-]{36})", href).group(1)


def status_in_list(app, job_id: str):
    return app.page.locator(f'#job-rows tr[data-job-id="{job_id}"] .status')


def api_job(stack, job_id: str) -> dict:
    response = httpx.get(
        f"{stack.api_url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {stack.api_key}"}, timeout=10
    )
    assert response.status_code == 200
    return response.json()


def test_sign_in_refuses_a_wrong_key_and_keeps_the_right_one_for_the_tab(app):
    page = app.page
    page.goto(app.stack.api_url + "/")
    assert page.url.endswith("/app/")
    app.screenshot("sign-in")
    page.fill("#api-key", "smmu_not-a-key")
    page.click("#sign-in button[type=submit]")
    expect()(page.locator("#sign-in-error")).to_contain_text("not accepted")
    app.sign_in()
    page.reload()
    page.wait_for_selector("#drop-zone")  # still signed in: the key is in this tab's sessionStorage
    assert page.evaluate("Object.keys(localStorage).some((k) => localStorage.getItem(k).includes('smmu_'))") is False
    page.click("#sign-out")
    page.wait_for_selector("#api-key")
    assert page.evaluate("sessionStorage.length") == 0


def test_an_image_uploads_completes_live_and_its_thumbnail_decodes(app):
    app.sign_in()
    page = app.page
    page.evaluate("window.sameDocument = true")
    # A hostile filename: shown as the text it is, never parsed as HTML.
    name = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>.jpg'
    page.set_input_files(
        "#file-input", files=[{"name": name, "mimeType": "image/jpeg", "buffer": media.jpeg(640, 480)}]
    )
    job_id = uploaded(app, name)
    assert page.locator("#uploads li .filename").first.text_content() == name
    expect()(status_in_list(app, job_id)).to_have_attribute("data-status", "COMPLETED", timeout=LIVE)
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
    assert page.locator("#uploads img, #uploads script, #job-rows img, #job-rows script").count() == 0
    stored = api_job(app.stack, job_id)["filename"]
    expect()(page.locator(f'#job-rows tr[data-job-id="{job_id}"] td.filename')).to_have_text(stored)
    app.screenshot("jobs")

    # The pictures are held back a moment: meanwhile each shows the image's placeholder, its ThumbHash decoded in
    # the page (a PNG data URL) on its dominant colour.
    held: list = []
    holding = [True]

    def hold_pictures(route) -> None:
        if holding[0] and route.request.resource_type == "image":
            held.append(route)
        else:
            route.continue_()

    page.route(f"**/jobs/{job_id}/**", hold_pictures)
    page.click(f'#job-rows tr[data-job-id="{job_id}"] a')
    expect()(page.locator("#job-filename")).to_have_text(stored)
    placeholder = api_job(app.stack, job_id)["placeholder"]
    first = page.locator("#gallery figure").first
    expect()(first).to_have_class(re.compile(r"\bloading\b.*\bplaceholder\b|\bplaceholder\b.*\bloading\b"))
    image, colour = first.evaluate("f => [getComputedStyle(f).backgroundImage, getComputedStyle(f).backgroundColor]")
    assert image.startswith('url("data:image/png;base64,'), image
    red, green, blue = (int(placeholder["dominant_color"][i : i + 2], 16) for i in (1, 3, 5))
    assert colour == f"rgb({red}, {green}, {blue})"
    page.wait_for_function("() => document.querySelectorAll('#gallery img').length > 0")
    holding[0] = False
    for route in held:
        route.continue_()
    page.wait_for_function(
        """() => {
            const images = [...document.querySelectorAll("#gallery img")];
            return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
        }"""
    )
    expect()(page.locator("#gallery figure.loading")).to_have_count(0)  # placeholders gave way
    expect()(page.locator("#downloads a")).not_to_have_count(0)
    expect()(page.locator("#metadata dt")).not_to_have_count(0)
    expect()(page.locator("#timeline [data-outcome=succeeded]")).not_to_have_count(0)
    assert page.evaluate("window.pwned") is None


@pytest.fixture(scope="module")
def speech_video(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("speech")
    wav = worker_media.speech(folder / "speech.wav", SENTENCE)
    return worker_media.speech_video(folder / "talk.mp4", wav).read_bytes()


def test_a_dropped_video_plays_over_hls_and_the_transcript_seeks_it(app, speech_video):
    app.sign_in()
    page = app.page
    drop_file(page, "talk.mp4", "video/mp4", speech_video)
    job_id = uploaded(app, "talk.mp4")
    expect()(status_in_list(app, job_id)).to_have_attribute("data-status", "COMPLETED", timeout=LIVE)

    page.evaluate(f"location.hash = '#/jobs/{job_id}?autoplay=1'")
    # Playing: the muted video's clock advances.
    page.wait_for_function("() => document.querySelector('#player')?.currentTime > 0.5")
    playback = httpx.get(
        f"{app.stack.api_url}/v1/jobs/{job_id}/playback",
        headers={"Authorization": f"Bearer {app.stack.api_key}"},
        timeout=10,
    )
    player = page.locator("#player").get_attribute("data-player")
    # From the HLS endpoint through hls.js where the API has one; the MP4 rendition otherwise.
    assert player == ("hls.js" if playback.status_code == 200 else "mp4"), playback.text

    segments = page.locator("#transcript .segments li")
    expect()(segments).not_to_have_count(0)
    text = " ".join(segments.all_text_contents()).lower()
    assert "welcome" in text or "show" in text, text
    app.screenshot("job-video", full_page=True)
    # A timestamp seeks the player: stop near the end, click the first segment, and the clock goes back to it.
    page.evaluate("() => { const p = document.querySelector('#player'); p.pause(); p.currentTime = p.duration - 0.3 }")
    page.wait_for_function("() => document.querySelector('#player').currentTime > 2")
    first = segments.first
    start = float(first.get_attribute("data-start"))
    first.locator("button.timestamp").click()
    page.wait_for_function(f"() => Math.abs(document.querySelector('#player').currentTime - {start}) < 0.75")


def test_a_corrupt_file_shows_why_it_failed(app):
    app.sign_in()
    page = app.page
    page.set_input_files(
        "#file-input", files=[{"name": "broken.mp4", "mimeType": "video/mp4", "buffer": os.urandom(40_000)}]
    )
    job_id = uploaded(app, "broken.mp4")
    expect()(status_in_list(app, job_id)).to_have_attribute("data-status", "FAILED", timeout=LIVE)
    error = api_job(app.stack, job_id)["error"]
    page.click(f'#job-rows tr[data-job-id="{job_id}"] a')
    expect()(page.locator("#failure-message")).to_have_text(error["message"])
    expect()(page.locator(".failure")).to_contain_text(error["code"])
    expect()(page.locator("#timeline [data-outcome=failed]")).not_to_have_count(0)


def test_an_upload_interrupted_by_a_reload_resumes_with_the_parts_still_missing(app, tmp_path):
    app.sign_in()
    page = app.page
    parts = 8
    path = Path(tmp_path / "recording.mp4")
    path.write_bytes(os.urandom(parts * SMALL_PART))
    sent = []
    released = []

    def throttle(route):
        # The first three parts go through; the others hang, as on a link that dropped, until after the reload.
        if route.request.method == "PUT" and not released:
            if len(sent) >= 3:
                return  # held: never answered
            sent.append(route.request.url)
        route.continue_()

    page.route(re.compile(r".*[?&]partNumber=\d+"), throttle)
    page.set_input_files("#file-input", str(path))
    page.wait_for_function(f"() => document.querySelector('#uploads progress')?.value >= {3 * SMALL_PART}")
    expect()(page.locator("#uploads li")).to_have_attribute("data-state", "uploading")
    app.screenshot("upload-progress")

    page.reload()  # the parts on hold die with the page
    released.append(True)
    expect()(page.locator(".interrupted")).to_contain_text("recording.mp4")
    after_reload = []
    page.on("request", lambda r: after_reload.append(r.url) if r.method == "PUT" and "partNumber=" in r.url else None)
    page.set_input_files("#file-input", str(path))
    job_id = uploaded(app, "recording.mp4")
    expect()(page.locator("#uploads li")).to_contain_text("resumed: 3 parts were already uploaded")
    assert len(after_reload) == parts - 3, after_reload
    # S3 has the whole file: its event starts the job (random bytes: it fails validation, as it should).
    expect()(status_in_list(app, job_id)).to_have_attribute("data-status", "FAILED", timeout=LIVE)
    expect()(page.locator(".interrupted")).to_be_hidden()
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('smmu.upload'))") == []
