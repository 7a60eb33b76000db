// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, and the
// long-lived token must not travel in a URL (logs, history, Referer). This reads the same
// text/event-stream and reconnects as EventSource would: after `retry:`, with Last-Event-ID,
// so nothing is missed. A refusal (401, 404, 422) ends it; 503 and dropped streams retry.
import { authHeaders, problemOf } from "./api.js";

function parseFrame(frame) {
  const out = { id: null, type: "message", data: [], retry: null };
  for (const line of frame.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const field = at < 0 ? line : line.slice(0, at);
    let value = at < 0 ? "" : line.slice(at + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") out.id = value;
    else if (field === "event") out.type = value;
    else if (field === "data") out.data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) out.retry = Number(value);
  }
  return out;
}

// Calls onChunk with each decoded piece of a streamed text body until it ends.
export async function readText(response, onChunk) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onChunk(value);
  }
}

// subscribe(path, {onEvent, onOpen, onState}) -> stop(). onOpen runs on every (re)connection,
// once the server answered: the moment to (re)load what the events update.
export function subscribe(path, { onEvent, onOpen, onState }) {
  const controller = new AbortController();
  let lastId = null;
  let retry = 1000;
  let stopped = false;

  async function connect() {
    const extra = { Accept: "text/event-stream" };
    if (lastId) extra["Last-Event-ID"] = lastId;
    const response = await fetch(path, {
      headers: authHeaders(extra), signal: controller.signal, cache: "no-store",
    });
    if (!response.ok) {
      const problem = await problemOf(response);
      problem.final = response.status < 500;
      problem.retryAfter = Number(response.headers.get("Retry-After")) || 0;
      throw problem;
    }
    onState?.("live");
    onOpen?.();
    let buffer = "";
    await readText(response, (chunk) => {
      buffer += chunk.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = parseFrame(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (frame.retry !== null) retry = frame.retry;
        if (frame.id !== null) lastId = frame.id;
        if (!frame.data.length) continue;
        try {
          onEvent({ id: frame.id, type: frame.type, data: JSON.parse(frame.data.join("\n")) });
        } catch {
          // not JSON: not one of ours
        }
      }
    });
  }

  (async () => {
    while (!stopped) {
      let wait = retry;
      try {
        await connect();
      } catch (error) {
        if (error.name === "AbortError") return;
        if (error.final) {
          onState?.("refused", error);
          return;
        }
        // 503 too-many-streams (this API process serves its most) says when to come back.
        wait = Math.max(retry, 1000 * (error.retryAfter || 0));
      }
      if (stopped) return;
      onState?.("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();
  return () => {
    stopped = true;
    controller.abort();
  };
}
