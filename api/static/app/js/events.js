// Server-Sent Events read with fetch streaming (EventSource cannot send the Authorization header), resumed after
// a dropped connection with the Last-Event-ID header; where the API has no event stream, the caller polls.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Parse one event block ("id: …\nevent: …\ndata: …"); comments (": keep-alive") give null. */
export function parseEvent(block) {
  let id;
  let type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return id === undefined ? null : { id, type: null, data: null };
  let parsed;
  try {
    parsed = JSON.parse(data.join("\n"));
  } catch {
    parsed = null;
  }
  return { id, type, data: parsed };
}

/**
 * Follow an event stream until close(): onEvent({id, type, data}) for each event, onOpen() at each (re)connect,
 * onDown(reason) whenever the stream is not flowing — refused (429, 5xx), dropped, or absent from this API
 * (404/405/501: then it is not tried again) — so the caller polls until the next onOpen.
 */
export function subscribe(api, path, { onEvent, onOpen, onDown }) {
  const controller = new AbortController();
  let lastEventId = null;
  let closed = false;

  async function run() {
    let backoff = 1000;
    while (!closed) {
      try {
        const headers = api.headers({ Accept: "text/event-stream" });
        if (lastEventId !== null) headers["Last-Event-ID"] = lastEventId;
        const response = await fetch(path, { headers, signal: controller.signal, cache: "no-store" });
        if ([404, 405, 501].includes(response.status)) {
          onDown?.(`no event stream here (the API answered ${response.status})`);
          return;
        }
        if (response.status === 401) {
          api.onUnauthorized?.();
          return;
        }
        if (response.status === 400 && lastEventId !== null) {
          // A cursor the API no longer takes: start afresh (onOpen lets the caller reload what it shows).
          lastEventId = null;
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}`);
        backoff = 1000;
        onOpen?.();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = (buffer + value).replace(/\r\n|\r(?=.)/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = parseEvent(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
            if (!event) continue;
            if (event.id !== undefined) lastEventId = event.id;
            if (event.type) onEvent(event);
          }
        }
        if (!closed) onDown?.("the event stream ended");
      } catch (error) {
        if (closed) return;
        onDown?.(error.message || String(error));
      }
      if (closed) return;
      // The stream ended or failed: reconnect, resuming after the last event seen.
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 15000);
    }
  }

  run();
  return {
    close() {
      closed = true;
      controller.abort();
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}

/** Call fn every `ms` until stop(); never two calls at once. */
export function poll(fn, ms) {
  let stopped = false;
  let timer = null;
  async function tick() {
    if (stopped) return;
    try {
      await fn();
    } catch {
      // the next tick tries again
    }
    if (!stopped) timer = setTimeout(tick, ms);
  }
  timer = setTimeout(tick, ms);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
