// GPU status changes from GET /v1/events/gpus. fetch + a stream reader, not EventSource:
// EventSource cannot send the X-Api-Key header, and the key must never be put in a URL.
// One stream per tab, shared by every page that listens (the gateway bounds streams per account).
import { useEffect, useState } from 'preact/hooks';
import { session } from './api.js';

const listeners = new Set();
const stateListeners = new Set();
let controller;
let state = { connected: false, error: undefined };

const setState = (next) => {
  state = next;
  for (const fn of stateListeners) fn(state);
};

/** Splits the text into SSE blocks; calls `fn` with each event's name and parsed data. */
function parseBlock(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // a comment: the gateway's heartbeat
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return;
  const payload = JSON.parse(data.join('\n'));
  for (const fn of listeners) fn(name, payload);
}

async function run(signal) {
  let delay = 1000;
  while (!signal.aborted) {
    try {
      const res = await fetch('/v1/events/gpus', { headers: { 'X-Api-Key': session.key() ?? '', Accept: 'text/event-stream' }, signal });
      if (!res.ok) {
        const problem = await res.json().catch(() => undefined);
        throw new Error(problem?.detail ?? `live updates answered ${res.status}`);
      }
      setState({ connected: true, error: undefined });
      delay = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, '\n');
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          parseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
      setState({ connected: false, error: undefined });
    } catch (error) {
      if (signal.aborted) return;
      setState({ connected: false, error });
    }
    // The stream ended or failed: try again, backing off to 30 s.
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}

/** Listens to GPU events while `fn` is subscribed; returns the unsubscribe function. */
export function onGpuEvent(fn) {
  listeners.add(fn);
  if (!controller) {
    controller = new AbortController();
    void run(controller.signal);
  }
  return () => {
    listeners.delete(fn);
    if (!listeners.size && controller) {
      controller.abort();
      controller = undefined;
      setState({ connected: false, error: undefined });
    }
  };
}

/** A hook: calls `fn(name, data)` for every event while the component is shown; returns the stream's state. */
export function useGpuEvents(fn) {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    stateListeners.add(setCurrent);
    const stop = onGpuEvent(fn);
    return () => {
      stop();
      stateListeners.delete(setCurrent);
    };
  }, []);
  return current;
}

/** Stops the stream (signing out). */
export function closeGpuEvents() {
  listeners.clear();
  controller?.abort();
  controller = undefined;
}
