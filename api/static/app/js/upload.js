// Uploads: one presigned POST for a file that fits in one part, S3 multipart (parts in parallel, each with its
// SHA-256, which S3 checks) above that. A multipart upload survives a page reload: its job id is kept in
// localStorage under the file's name, size and modification time; choosing the same file again asks the API which
// parts S3 holds, checks their SHA-256 against the file and sends only the others.

import { ApiError } from "./api.js";

const STORE_PREFIX = "smmu.upload.v1:";
const PARTS_IN_FLIGHT = 4;
const PART_ATTEMPTS = 4;
const FILES_AT_ONCE = 2;

const EXTENSION_TYPES = {
  jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp",
  heic: "image/heic", heif: "image/heif", avif: "image/avif", tif: "image/tiff", tiff: "image/tiff",
  mp4: "video/mp4", m4v: "video/mp4", mov: "video/quicktime", webm: "video/webm", mkv: "video/x-matroska",
  mp3: "audio/mpeg", m4a: "audio/mp4", wav: "audio/wav", flac: "audio/flac", ogg: "audio/ogg", aac: "audio/aac",
};

export function contentType(file) {
  if (file.type) return file.type;
  const ext = file.name.split(".").pop().toLowerCase();
  return EXTENSION_TYPES[ext] || "application/octet-stream";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fileKey(file) {
  return `${STORE_PREFIX}${file.name}\u0000${file.size}\u0000${file.lastModified}`;
}

/** Multipart uploads a reload interrupted: [{key, name, size, job_id, part_count, started_at}] */
export function interruptedUploads() {
  const found = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (!key || !key.startsWith(STORE_PREFIX)) continue;
    try {
      found.push({ key, ...JSON.parse(localStorage.getItem(key)) });
    } catch {
      localStorage.removeItem(key);
    }
  }
  return found.sort((a, b) => String(a.started_at).localeCompare(String(b.started_at)));
}

export function forget(key) {
  localStorage.removeItem(key);
}

function base64(buffer) {
  let binary = "";
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

async function sha256(blob) {
  return base64(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
}

/** S3's XML error in words (the <Message>), or the status. */
function s3Error(xhr) {
  let message = "";
  try {
    const doc = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
    message = doc.querySelector("Message")?.textContent || "";
  } catch {
    message = "";
  }
  return new ApiError(xhr.status, `storage answered ${xhr.status || "nothing"}${message ? `: ${message}` : ""}`);
}

/** Send a body with XMLHttpRequest (fetch reports no upload progress); onProgress(bytesSent). */
function send(method, url, body, headers, onProgress, track) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    track.add(xhr);
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total);
    xhr.onload = () => {
      track.delete(xhr);
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
      else reject(s3Error(xhr));
    };
    xhr.onerror = () => {
      track.delete(xhr);
      reject(new ApiError(0, "the connection to storage failed"));
    };
    xhr.onabort = () => {
      track.delete(xhr);
      reject(new ApiError(0, "cancelled"));
    };
    xhr.send(body);
  });
}

export class UploadTask {
  constructor(manager, file) {
    this.manager = manager;
    this.file = file;
    this.id = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    this.state = "waiting"; // waiting | checking | uploading | completing | done | failed | cancelled
    this.total = file.size;
    this.sent = 0;
    this.speed = 0;
    this.jobId = null;
    this.error = null;
    this.multipart = false;
    this.resumedParts = 0;
    this.partCount = 0;
    this.samples = [];
    this.inFlight = new Map();
    this.done = 0;
    this.xhrs = new Set();
  }

  get eta() {
    return this.speed > 0 ? (this.total - this.sent) / this.speed : Infinity;
  }

  update(changes = {}) {
    Object.assign(this, changes);
    this.manager.changed(this);
  }

  progress() {
    let inFlight = 0;
    for (const loaded of this.inFlight.values()) inFlight += loaded;
    const sent = Math.min(this.total, this.done + inFlight);
    const now = performance.now();
    this.samples.push([now, sent]);
    // Speed over the last few seconds: steady enough to read, quick to follow a change.
    while (this.samples.length > 2 && now - this.samples[0][0] > 4000) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const speed = now - t0 > 250 ? ((sent - b0) * 1000) / (now - t0) : this.speed;
    this.update({ sent, speed });
  }

  cancel() {
    if (["done", "failed", "cancelled"].includes(this.state)) return;
    this.cancelled = true;
    for (const xhr of this.xhrs) xhr.abort();
    if (this.multipart && this.jobId) {
      this.manager.api.delete(`/v1/uploads/${this.jobId}`).catch(() => {});
      forget(fileKey(this.file));
    }
    this.update({ state: "cancelled" });
  }

  async run() {
    try {
      const limits = await this.manager.limits();
      const stored = localStorage.getItem(fileKey(this.file));
      if (stored && (await this.resume(JSON.parse(stored)))) return;
      const hashing = Boolean(globalThis.crypto?.subtle);
      if (!hashing && this.file.size > limits.multipart_threshold_bytes) {
        // Parts carry their SHA-256, and browsers offer Web Crypto to https:// and localhost pages only.
        throw new Error(
          "files this big go in parts, which needs this page over https:// (or on localhost); open it that way",
        );
      }
      const wantParts = hashing && this.file.size > limits.multipart_part_bytes;
      const created = await this.manager.api.post("/v1/uploads", {
        filename: this.file.name,
        content_type: contentType(this.file),
        size_bytes: this.file.size,
        ...(wantParts ? { multipart: true } : {}),
      });
      this.update({ jobId: created.job_id });
      this.manager.created(created.job_id, this.file.name);
      if (created.multipart) await this.sendParts(created.multipart, new Set());
      else await this.post(created.upload);
      this.update({ state: "done", sent: this.total });
    } catch (error) {
      if (this.cancelled) return;
      this.update({ state: "failed", error: error.message || String(error) });
    }
  }

  async post(upload) {
    this.update({ state: "uploading" });
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append("file", this.file);
    await send("POST", upload.url, form, {}, (loaded, total) => {
      // The form's framing is a few hundred bytes: count the file's share of what was sent.
      this.inFlight.set(1, total ? (loaded / total) * this.total : loaded);
      this.progress();
    }, this.xhrs);
    this.inFlight.clear();
    this.done = this.total;
    this.progress();
  }

  /** A stored multipart upload of this file: true if it was resumed (and finished), false to start over. */
  async resume(record) {
    this.update({ state: "checking", jobId: record.job_id, multipart: true });
    let progress;
    try {
      progress = await this.manager.api.get(`/v1/uploads/${record.job_id}/parts`);
    } catch (error) {
      // Completed, aborted, expired or not this tenant's: nothing to resume.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
        forget(fileKey(this.file));
        this.update({ jobId: null, multipart: false });
        return false;
      }
      throw error;
    }
    const plan = { upload_id: progress.upload_id, part_size_bytes: progress.part_size_bytes, part_count: progress.part_count };
    const verified = new Set();
    for (const part of progress.received) {
      const blob = this.slice(plan, part.part_number);
      // A part S3 holds counts only if it is this file's bytes (same size and SHA-256).
      if (part.size_bytes === blob.size && part.checksum_sha256 && part.checksum_sha256 === (await sha256(blob))) {
        verified.add(part.part_number);
      }
    }
    this.manager.created(record.job_id, this.file.name);
    this.resumedParts = verified.size;
    await this.sendParts(plan, verified);
    this.update({ state: "done", sent: this.total });
    return true;
  }

  slice(plan, number) {
    const start = (number - 1) * plan.part_size_bytes;
    return this.file.slice(start, Math.min(start + plan.part_size_bytes, this.file.size));
  }

  async sendParts(plan, verified) {
    const api = this.manager.api;
    const key = fileKey(this.file);
    if (!localStorage.getItem(key)) {
      localStorage.setItem(
        key,
        JSON.stringify({
          job_id: this.jobId,
          name: this.file.name,
          size: this.file.size,
          part_count: plan.part_count,
          started_at: new Date().toISOString(),
        }),
      );
    }
    this.multipart = true;
    this.partCount = plan.part_count;
    this.done = 0;
    for (const number of verified) this.done += this.slice(plan, number).size;
    this.update({ state: "uploading" });
    this.progress();
    const todo = [];
    for (let n = 1; n <= plan.part_count; n += 1) if (!verified.has(n)) todo.push(n);

    const sendPart = async (number) => {
      const blob = this.slice(plan, number);
      const checksum = await sha256(blob);
      for (let attempt = 1; ; attempt += 1) {
        try {
          // A fresh URL for every attempt: one that expired or was refused is not tried twice.
          const { parts } = await api.post(`/v1/uploads/${this.jobId}/parts`, {
            parts: [{ part_number: number, checksum_sha256: checksum }],
          });
          await send("PUT", parts[0].url, blob, parts[0].headers, (loaded) => {
            this.inFlight.set(number, loaded);
            this.progress();
          }, this.xhrs);
          break;
        } catch (error) {
          this.inFlight.delete(number);
          if (this.cancelled || attempt >= PART_ATTEMPTS) throw error;
          await sleep(500 * 2 ** attempt);
        }
      }
      this.inFlight.delete(number);
      this.done += blob.size;
      this.progress();
    };

    const worker = async () => {
      while (todo.length && !this.cancelled) await sendPart(todo.shift());
    };
    await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, todo.length) }, worker));
    if (this.cancelled) throw new ApiError(0, "cancelled");
    this.update({ state: "completing" });
    await api.post(`/v1/uploads/${this.jobId}/complete`, {});
    forget(key);
  }
}

/** The uploads of this page: a few files at a time; listeners hear every change. */
export class UploadManager {
  constructor(api) {
    this.api = api;
    this.tasks = [];
    this.listeners = new Set();
    this.jobListeners = new Set();
    this.limitsPromise = null;
  }

  limits() {
    this.limitsPromise ??= this.api.get("/v1/limits").catch((error) => {
      this.limitsPromise = null;
      throw error;
    });
    return this.limitsPromise;
  }

  add(files) {
    for (const file of files) this.tasks.push(new UploadTask(this, file));
    this.changed();
    this.pump();
  }

  pump() {
    const active = this.tasks.filter((t) => ["checking", "uploading", "completing"].includes(t.state) || t.starting);
    for (const task of this.tasks) {
      if (active.length >= FILES_AT_ONCE) break;
      if (task.state !== "waiting" || task.starting) continue;
      task.starting = true;
      active.push(task);
      task.run().finally(() => {
        task.starting = false;
        this.pump();
      });
    }
  }

  changed(task) {
    for (const listener of this.listeners) listener(task);
  }

  created(jobId, filename) {
    for (const listener of this.jobListeners) listener(jobId, filename);
  }
}
