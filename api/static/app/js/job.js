// A job's page: status and live step timeline, the reason of a failure, the outputs as a person uses them
// (pictures, the video over HLS, audio with its waveform, the transcript that seeks the player), metadata and
// download links.

import { h, replace } from "./dom.js";
import { subscribe, poll } from "./events.js";
import { bytes, clock, duration, when, TERMINAL } from "./format.js";
import { statusBadge } from "./home.js";
import { thumbHashToDataURL } from "../vendor/thumbhash.js";

const OUTCOME = { succeeded: "✓", failed: "✗", info: "•" };

function byKind(job, ...kinds) {
  return job.outputs.filter((o) => kinds.includes(o.kind));
}

function basename(key) {
  return key.split("/").slice(-2).join("/").replace(/^[0-9a-f-]{36}\//, "");
}

// An image job's placeholder (its ThumbHash, a blurred preview of about 25 bytes, and its dominant colour),
// painted behind each picture until the picture itself has loaded.
function paintPlaceholder(figure, placeholder) {
  figure.classList.add("placeholder");
  figure.style.backgroundColor = placeholder.dominant_color;
  try {
    const hash = Uint8Array.from(atob(placeholder.thumbhash), (c) => c.charCodeAt(0));
    figure.style.backgroundImage = `url("${thumbHashToDataURL(hash)}")`;
  } catch {
    // A hash that does not decode leaves the colour, which is placeholder enough.
  }
}

function picture(output, alt, placeholder = null) {
  const figure = h("figure", { class: "thumb loading" });
  if (output.width && output.height) figure.style.aspectRatio = `${output.width} / ${output.height}`;
  if (placeholder) paintPlaceholder(figure, placeholder);
  const img = h("img", { alt, decoding: "async", loading: "lazy" });
  if (output.width) img.width = output.width;
  if (output.height) img.height = output.height;
  img.addEventListener("load", () => {
    figure.classList.remove("loading");
    // Gone once the picture is there: it would show through a transparent picture's see-through parts.
    figure.style.backgroundImage = "";
    figure.style.backgroundColor = "";
  });
  img.addEventListener("error", () => {
    figure.classList.remove("loading");
    figure.classList.add("broken");
    figure.append(h("figcaption", {}, "could not load this picture"));
  });
  img.src = output.url;
  figure.prepend(img);
  if (output.width) figure.append(h("figcaption", {}, `${output.width}×${output.height}`));
  return figure;
}

function timeline(job) {
  if (!job.timeline.length) return h("p", { class: "muted" }, "No steps yet.");
  return h(
    "ol",
    { class: "timeline", id: "timeline" },
    job.timeline.map((entry) =>
      h(
        "li",
        { class: `step step-${entry.outcome}`, dataset: { step: entry.step, outcome: entry.outcome } },
        h("span", { class: "outcome", "aria-label": entry.outcome }, OUTCOME[entry.outcome] || "•"),
        h("span", { class: "step-name" }, entry.step),
        h("span", { class: "muted" }, duration(entry.duration_ms)),
        h("time", { class: "muted", datetime: entry.at }, when(entry.at)),
        entry.detail ? h("span", { class: "step-detail" }, entry.detail) : null,
      ),
    ),
  );
}

function metadataList(value, depth = 0) {
  if (value === null || typeof value !== "object") return h("span", {}, String(value));
  if (depth > 3) return h("span", {}, JSON.stringify(value));
  if (Array.isArray(value)) {
    return h("ol", { class: "meta-list" }, value.slice(0, 50).map((v) => h("li", {}, metadataList(v, depth + 1))));
  }
  return h(
    "dl",
    { class: "meta" },
    Object.entries(value).map(([k, v]) => [h("dt", {}, k), h("dd", {}, metadataList(v, depth + 1))]),
  );
}

function downloads(job) {
  return h(
    "table",
    { class: "downloads", id: "downloads" },
    h("thead", {}, h("tr", {}, h("th", {}, "Output"), h("th", {}, "Kind"), h("th", {}, "Size"), h("th", {}, "Details"))),
    h(
      "tbody",
      {},
      job.outputs.map((o) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: o.url, download: "", rel: "noopener noreferrer" }, basename(o.key))),
          h("td", {}, o.kind),
          h("td", {}, bytes(o.size_bytes)),
          h(
            "td",
            { class: "muted" },
            [o.width ? `${o.width}×${o.height}` : "", o.duration_seconds ? `${o.duration_seconds.toFixed(1)} s` : "", o.content_type]
              .filter(Boolean)
              .join(" · "),
          ),
        ),
      ),
    ),
  );
}

/** Play the job's video: HLS through hls.js from the playback endpoint; the MP4 rendition where there is none. */
async function attachVideo(ctx, job, video, note) {
  const mp4 = byKind(job, "video").sort((a, b) => (b.height || 0) - (a.height || 0))[0];
  let hlsUrl = null;
  if (byKind(job, "hls_master").length) {
    try {
      hlsUrl = (await ctx.api.get(`/v1/jobs/${job.job_id}/playback`)).hls_url;
    } catch (error) {
      replace(note, `HLS playback is not available (${error.message}); playing the MP4 rendition.`);
    }
  }
  if (hlsUrl) {
    const { default: Hls } = await import("../vendor/hls.min.mjs");
    if (Hls.isSupported()) {
      // No worker: it would need a blob: script, which the page's Content-Security-Policy does not allow.
      const hls = new Hls({ enableWorker: false });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        replace(note, `HLS playback failed (${data.details}); playing the MP4 rendition.`);
        hls.destroy();
        if (mp4) video.src = mp4.url;
      });
      hls.loadSource(hlsUrl);
      hls.attachMedia(video);
      video.dataset.player = "hls.js";
      return () => hls.destroy();
    }
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = hlsUrl;
      video.dataset.player = "native-hls";
      return null;
    }
  }
  if (mp4) {
    video.src = mp4.url;
    video.dataset.player = "mp4";
  }
  return null;
}

async function transcriptView(job, player) {
  const [output] = byKind(job, "transcript");
  if (!output) return null;
  const section = h("section", { class: "transcript", id: "transcript", "aria-labelledby": "transcript-title" });
  section.append(h("h2", { id: "transcript-title" }, "Transcript"));
  let transcript;
  try {
    const response = await fetch(output.url, { cache: "no-store", referrerPolicy: "no-referrer" });
    if (!response.ok) throw new Error(`storage answered ${response.status}`);
    transcript = await response.json();
  } catch (error) {
    section.append(h("p", { class: "error-text" }, `Could not load the transcript: ${error.message}`));
    return section;
  }
  if (!transcript.segments?.length) {
    section.append(h("p", { class: "muted" }, transcript.note || "No speech."));
    return section;
  }
  if (transcript.language) section.append(h("p", { class: "muted" }, `Language: ${transcript.language}`));
  const items = transcript.segments.map((segment) =>
    h(
      "li",
      { dataset: { start: String(segment.start) } },
      h(
        "button",
        {
          type: "button",
          class: "timestamp",
          "aria-label": `Play from ${clock(segment.start)}`,
          onclick: () => {
            if (!player) return;
            player.currentTime = segment.start;
            player.play().catch(() => {});
          },
        },
        clock(segment.start),
      ),
      h("span", { class: "segment-text" }, segment.text.trim()),
    ),
  );
  section.append(h("ol", { class: "segments" }, items));
  player?.addEventListener("timeupdate", () => {
    const t = player.currentTime;
    transcript.segments.forEach((segment, i) => {
      items[i].classList.toggle("current", t >= segment.start && t < segment.end);
    });
  });
  return section;
}

export function renderJob(main, ctx, jobId, params) {
  const head = h("div", { class: "job-head" });
  const failure = h("div", { id: "failure" });
  const progress = h("div", { class: "job-progress", id: "job-progress", hidden: true });
  const media = h("div", { id: "media" });
  const steps = h("section", { "aria-labelledby": "steps-title" }, h("h2", { id: "steps-title" }, "Steps"), h("div", { id: "steps" }));
  const details = h("div", { id: "details" });
  replace(main, h("p", {}, h("a", { href: "#/" }, "← All jobs")), head, failure, progress, media, steps, details);

  let job = null;
  let mediaShownFor = null;
  const cleanups = [];

  function renderMedia() {
    // Built once, when the job completes: a player is not rebuilt under the viewer.
    if (!job || job.status !== "COMPLETED" || mediaShownFor === job.job_id) return;
    mediaShownFor = job.job_id;
    const parts = [];
    let player = null;
    if (job.media_type === "video" || byKind(job, "video", "hls_master").length) {
      const note = h("p", { class: "muted", id: "player-note" });
      const video = h("video", { id: "player", controls: true, playsinline: true, preload: "metadata" });
      const [poster] = byKind(job, "poster");
      if (poster) video.poster = poster.url;
      if (params.get("autoplay")) {
        video.muted = true;
        video.autoplay = true;
      }
      attachVideo(ctx, job, video, note).then(
        (cleanup) => cleanup && cleanups.push(cleanup),
        (error) => replace(note, `Could not start the player: ${error.message}`),
      );
      player = video;
      parts.push(h("section", { class: "player", "aria-label": "Video" }, video, note));
    } else if (job.media_type === "audio" || byKind(job, "audio").length) {
      const [audio] = byKind(job, "audio");
      const [waveform] = byKind(job, "waveform");
      const element = h("audio", { id: "player", controls: true, preload: "metadata" });
      if (audio) element.src = audio.url;
      player = element;
      parts.push(
        h(
          "section",
          { class: "player", "aria-label": "Audio" },
          waveform ? h("div", { class: "waveform" }, picture(waveform, `Waveform of ${job.filename}`)) : null,
          element,
        ),
      );
    }
    const pictures = byKind(job, "thumbnail", "poster").filter((o) => o.content_type.startsWith("image/"));
    if (pictures.length) {
      parts.push(
        h(
          "section",
          { "aria-labelledby": "pictures-title" },
          h("h2", { id: "pictures-title" }, "Pictures"),
          h("div", { class: "gallery", id: "gallery" }, pictures.map((o) => picture(o, `${o.kind} of ${job.filename}`, job.placeholder))),
        ),
      );
    }
    const transcriptSlot = h("div");
    parts.push(transcriptSlot);
    transcriptView(job, player).then((section) => section && transcriptSlot.replaceWith(section));
    replace(media, parts);
  }

  function render() {
    replace(
      head,
      h("h1", { class: "filename", id: "job-filename" }, job.filename),
      h(
        "p",
        { class: "job-facts" },
        h("span", { id: "job-status" }, statusBadge(job.status)),
        " ",
        [job.media_type, job.content_type, bytes(job.size_bytes), `uploaded ${when(job.created_at)}`].filter(Boolean).join(" · "),
      ),
    );
    if (job.status === "FAILED" && job.error) {
      replace(
        failure,
        h(
          "div",
          { class: "failure", role: "alert" },
          h("h2", {}, "This file could not be processed"),
          h("p", { id: "failure-message" }, job.error.message),
          h("p", { class: "muted" }, `Step: ${job.error.step} · code: ${job.error.code}`),
        ),
      );
    } else {
      failure.replaceChildren();
    }
    if (TERMINAL.has(job.status)) progress.hidden = true;
    replace(document.getElementById("steps"), timeline(job));
    renderMedia();
    if (job.status === "COMPLETED") {
      replace(
        details,
        job.metadata
          ? h("section", { "aria-labelledby": "meta-title" }, h("h2", { id: "meta-title" }, "Metadata"), h("div", { id: "metadata" }, metadataList(job.metadata)))
          : null,
        job.outputs.length
          ? h("section", { "aria-labelledby": "downloads-title" }, h("h2", { id: "downloads-title" }, "Downloads"), h("div", { class: "table-wrap" }, downloads(job)))
          : null,
      );
    }
  }

  let poller = null;
  let stream = null;
  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        job = await ctx.api.get(`/v1/jobs/${jobId}`);
        render();
        if (TERMINAL.has(job.status)) {
          stream?.close();
          poller?.stop();
        }
      } catch (error) {
        replace(head, h("h1", {}, "Job"), h("p", { class: "error-text", role: "alert" }, `Could not load this job: ${error.message}`));
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  refresh().then(() => {
    if (!job || TERMINAL.has(job.status)) return;
    stream = subscribe(ctx.api, `/v1/jobs/${jobId}/events`, {
      onOpen: () => {
        poller?.stop();
        poller = null;
        refresh(); // whatever happened before the stream (re)started
      },
      onEvent: (event) => {
        const data = event.data || {};
        if (event.type === "progress" && data.progress) {
          progress.hidden = false;
          const percent = Math.max(0, Math.min(100, Number(data.progress.percent) || 0));
          replace(
            progress,
            h("span", {}, `${data.progress.stage || "working"}: ${Math.round(percent)} %`),
            h("progress", { max: 100, value: percent, "aria-label": "Processing progress" }),
          );
          return;
        }
        refresh();
      },
      onDown: () => {
        // No events flowing (yet, or on this API): poll meanwhile.
        poller ??= poll(() => refresh(), 1000);
      },
    });
  });

  return () => {
    stream?.close();
    poller?.stop();
    for (const cleanup of cleanups) cleanup();
  };
}
