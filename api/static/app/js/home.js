// The home page: drop or choose files, watch them upload, and the job list, live.

import { h, replace } from "./dom.js";
import { subscribe, poll } from "./events.js";
import { bytes, rate, eta, when, STATUS_WORDS } from "./format.js";
import { interruptedUploads, forget } from "./upload.js";

const PAGE = 25;

export function statusBadge(status) {
  return h("span", { class: `status status-${status}`, dataset: { status } }, STATUS_WORDS[status] || status);
}

function uploadRow(task) {
  const percent = task.total ? Math.floor((task.sent / task.total) * 100) : 100;
  const words = {
    waiting: "waiting",
    checking: "checking the parts already sent",
    uploading: "uploading",
    completing: "finishing the upload",
    done: "uploaded",
    failed: "upload failed",
    cancelled: "cancelled",
  }[task.state];
  const details = [`${bytes(task.sent)} of ${bytes(task.total)}`];
  if (task.state === "uploading") details.push(rate(task.speed), eta(task.eta));
  if (task.multipart) details.push(`${task.partCount} parts`);
  if (task.resumedParts) details.push(`resumed: ${task.resumedParts} parts were already uploaded`);
  return h(
    "li",
    { class: `upload upload-${task.state}`, dataset: { state: task.state, task: task.id } },
    h(
      "div",
      { class: "upload-head" },
      h("span", { class: "filename" }, task.file.name),
      h("span", { class: "percent" }, `${percent} %`),
    ),
    h("progress", { max: task.total || 1, value: task.sent, "aria-label": `Upload of ${task.file.name}` }),
    h("div", { class: "upload-meta" }, h("span", { class: "state" }, words), " · ", details.join(" · ")),
    task.error ? h("p", { class: "error-text", role: "alert" }, task.error) : null,
    h(
      "div",
      { class: "upload-actions" },
      task.jobId ? h("a", { href: `#/jobs/${task.jobId}` }, "Open job") : null,
      ["waiting", "checking", "uploading"].includes(task.state)
        ? h("button", { type: "button", class: "link", onclick: () => task.cancel() }, "Cancel")
        : null,
    ),
  );
}

export function renderHome(main, ctx) {
  const input = h("input", { type: "file", id: "file-input", multiple: true, class: "visually-hidden" });
  const drop = h(
    "section",
    { class: "drop", id: "drop-zone", "aria-labelledby": "drop-title" },
    h("h2", { id: "drop-title" }, "Upload images, audio and video"),
    h("p", {}, "Drop files here, or "),
    input,
    h("label", { for: "file-input", class: "button" }, "Choose files"),
    h("p", { class: "muted", id: "limits" }, ""),
  );
  const interrupted = h("section", { class: "interrupted", hidden: true, "aria-label": "Interrupted uploads" });
  const uploads = h("ul", { class: "uploads", id: "uploads", "aria-live": "polite" });
  const liveNote = h("span", { class: "muted", id: "live-note" }, "");
  const statusFilter = h(
    "select",
    { id: "status-filter", "aria-label": "Show jobs with status" },
    h("option", { value: "" }, "all"),
    ...Object.keys(STATUS_WORDS).map((s) => h("option", { value: s }, STATUS_WORDS[s])),
  );
  const rows = h("tbody", { id: "job-rows" });
  const more = h("button", { type: "button", hidden: true }, "Show more");
  const empty = h("p", { class: "muted", hidden: true }, "No jobs yet: upload a file.");
  const listError = h("p", { class: "error-text", role: "alert", hidden: true });

  replace(
    main,
    drop,
    interrupted,
    uploads,
    h(
      "section",
      { class: "jobs", "aria-labelledby": "jobs-title" },
      h("div", { class: "jobs-head" }, h("h2", { id: "jobs-title" }, "Jobs"), h("label", {}, "Status ", statusFilter), liveNote),
      listError,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "jobs" },
          h("thead", {}, h("tr", {}, h("th", {}, "File"), h("th", {}, "Type"), h("th", {}, "Status"), h("th", {}, "Created"))),
          rows,
        ),
      ),
      empty,
      more,
    ),
  );

  // --- uploads ---
  input.addEventListener("change", () => {
    ctx.uploads.add([...input.files]);
    input.value = "";
  });
  const over = (on) => (event) => {
    event.preventDefault();
    drop.classList.toggle("over", on);
  };
  drop.addEventListener("dragenter", over(true));
  drop.addEventListener("dragover", over(true));
  drop.addEventListener("dragleave", over(false));
  drop.addEventListener("drop", (event) => {
    over(false)(event);
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length) ctx.uploads.add(files);
  });
  ctx.uploads.limits().then(
    (limits) => {
      replace(
        document.getElementById("limits") || h("p"),
        `Up to ${bytes(limits.max_upload_bytes)} a file; files over ${bytes(limits.multipart_part_bytes)} go in parts and resume after a reload.`,
      );
    },
    () => {},
  );

  const renderUploads = () => {
    replace(uploads, ctx.uploads.tasks.map(uploadRow));
    renderInterrupted();
  };
  const renderInterrupted = () => {
    const active = new Set(ctx.uploads.tasks.filter((t) => t.jobId).map((t) => t.jobId));
    const pending = interruptedUploads().filter((r) => !active.has(r.job_id));
    interrupted.hidden = pending.length === 0;
    replace(
      interrupted,
      h("h2", {}, "Interrupted uploads"),
      h("p", { class: "muted" }, "Choose or drop the same file again to send the rest of it."),
      h(
        "ul",
        {},
        pending.map((r) =>
          h(
            "li",
            { class: "interrupted-item" },
            h("span", { class: "filename" }, r.name),
            ` (${bytes(r.size)}) `,
            h(
              "button",
              {
                type: "button",
                class: "link",
                onclick: () => {
                  ctx.api.delete(`/v1/uploads/${r.job_id}`).catch(() => {});
                  forget(r.key);
                  renderInterrupted();
                },
              },
              "Discard",
            ),
          ),
        ),
      ),
    );
  };
  const onUpload = () => renderUploads();
  ctx.uploads.listeners.add(onUpload);
  renderUploads();

  // --- jobs ---
  const shown = new Map(); // job id -> row
  let cursor = null;

  const row = (job) =>
    h(
      "tr",
      { dataset: { jobId: job.job_id } },
      h("td", { class: "filename" }, h("a", { href: `#/jobs/${job.job_id}` }, job.filename)),
      h("td", {}, job.media_type || ""),
      h("td", {}, statusBadge(job.status)),
      h("td", {}, when(job.created_at)),
    );

  const put = (job, atTop) => {
    const filter = statusFilter.value;
    const existing = shown.get(job.job_id);
    if (filter && job.status !== filter) {
      existing?.remove();
      shown.delete(job.job_id);
      return;
    }
    const fresh = row(job);
    if (existing) existing.replaceWith(fresh);
    else if (atTop) rows.prepend(fresh);
    else rows.append(fresh);
    shown.set(job.job_id, fresh);
    empty.hidden = shown.size > 0;
  };

  const load = async (append) => {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (statusFilter.value) params.set("status", statusFilter.value);
    if (append && cursor) params.set("cursor", cursor);
    try {
      const page = await ctx.api.get(`/v1/jobs?${params}`);
      listError.hidden = true;
      if (!append) {
        // Newest first: jobs already shown keep their place; new ones go on top.
        for (const job of [...page.items].reverse()) put(job, !shown.has(job.job_id));
        if (cursor === null) cursor = page.next_cursor;
      } else {
        for (const job of page.items) put(job, false);
        cursor = page.next_cursor;
      }
      more.hidden = !cursor;
      empty.hidden = shown.size > 0;
    } catch (error) {
      listError.hidden = false;
      replace(listError, `Could not load the jobs: ${error.message}`);
    }
  };
  more.addEventListener("click", () => load(true));
  statusFilter.addEventListener("change", () => {
    rows.replaceChildren();
    shown.clear();
    cursor = null;
    load(false);
  });

  const refreshJob = async (jobId) => {
    try {
      put(await ctx.api.get(`/v1/jobs/${jobId}`), !shown.has(jobId));
    } catch {
      // gone or not ours: nothing to show
    }
  };
  const onJob = (jobId) => refreshJob(jobId);
  ctx.uploads.jobListeners.add(onJob);

  load(false);
  let poller = null;
  const stream = subscribe(ctx.api, "/v1/events", {
    onOpen: () => {
      poller?.stop();
      poller = null;
      replace(liveNote, "live");
      load(false); // whatever changed while (re)connecting
    },
    onEvent: (event) => {
      const data = event.data || {};
      if (event.type !== "status" || !data.job_id) return;
      const current = shown.get(data.job_id);
      if (current && data.status) {
        current.querySelector("td:nth-child(3)")?.replaceChildren(statusBadge(data.status));
        if (statusFilter.value && data.status !== statusFilter.value) refreshJob(data.job_id);
        else if (data.status === "COMPLETED") refreshJob(data.job_id); // media type is known now
      } else {
        refreshJob(data.job_id);
      }
    },
    onDown: () => {
      // No events flowing (yet, or on this API): poll the first page meanwhile.
      replace(liveNote, "updated every few seconds");
      poller ??= poll(() => load(false), 2000);
    },
  });

  return () => {
    stream.close();
    poller?.stop();
    ctx.uploads.listeners.delete(onUpload);
    ctx.uploads.jobListeners.delete(onJob);
  };
}
