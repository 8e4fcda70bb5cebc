"""The web app's static files as the API serves them: where they live, and the headers that keep the page to its
own scripts and to this API's storage."""

import re
from pathlib import Path

import pytest

from api.routes.web import STATIC_DIR

pytestmark = pytest.mark.integration


def test_root_redirects_to_the_app(api):
    response = api.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/app/"


def test_the_app_is_served_with_a_strict_content_security_policy(api):
    page = api.get("/app/")
    assert page.status_code == 200
    assert '<script type="module" src="js/main.js">' in page.text
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    # Uploads and outputs go to the storage endpoint the presigned URLs name, and nowhere else.
    upload = api.post("/v1/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 10})
    storage = re.match(r"https?://[^/]+", upload.json()["upload"]["url"]).group(0)
    assert policy["connect-src"].split() == ["'self'", storage]
    assert storage in policy["img-src"].split() and storage in policy["media-src"].split()
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["js/main.js", "vendor/hls.min.mjs"])
def test_modules_are_served_as_javascript(api, path):
    response = api.get(f"/app/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "content-security-policy" in response.headers


def test_no_inline_script_or_html_injection_in_the_app():
    html = (STATIC_DIR / "index.html").read_text()
    assert all('src="' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers need 'unsafe-inline'"
    for source in (STATIC_DIR / "js").glob("*.js"):
        text = source.read_text()
        # Text from users and jobs goes in through text nodes only.
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in text, f"{source.name} uses {sink}"


def test_vendored_hls_js_is_pinned_with_its_licence():
    vendor = STATIC_DIR / "vendor"
    version = (vendor / "hls.js.VERSION").read_text()
    assert re.match(r"hls\.js \d+\.\d+\.\d+\nnpm integrity sha512-", version)
    assert "Apache License" in (vendor / "hls.js.LICENSE").read_text()
    assert Path(vendor / "hls.min.mjs").stat().st_size > 100_000
