// The real npm `eventsource` client against the reference server's Fibric stream.
//
// The server drops the connection (POST /_control/disconnect), envelopes are
// appended while the client waits to reconnect, and the client must resume by
// itself with Last-Event-ID: every envelope exactly once, in order. Prints one
// JSON line for the Rust test (reference-server/tests/it/clients.rs) to check.
//
// Usage: node fibric-reconnect.mjs BASE_URL API_KEY CONTROL_TOKEN
import { EventSource } from 'eventsource';

const [base, key, control] = process.argv.slice(2);
if (!base || !key || !control) {
  console.error('usage: node fibric-reconnect.mjs BASE_URL API_KEY CONTROL_TOKEN');
  process.exit(2);
}

async function controlPost(path, body) {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${control}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

function append(from, count, eventType = (i) => `order.e${i}`) {
  const envelopes = Array.from({ length: count }, (_, k) => ({
    tenant_id: 'tn_a',
    event_type: eventType(from + k),
    source: 'eventsource-test',
  }));
  return controlPost('/_control/fibric/envelopes', { envelopes });
}

const received = [];
const lastEventIds = [];
let opens = 0;
let errors = 0;
const waiters = [];

function waitFor(predicate, what, ms = 20000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    const check = () => {
      if (predicate()) {
        clearTimeout(timer);
        resolve();
        return true;
      }
      return false;
    };
    if (!check()) waiters.push(check);
  });
}
const poke = () => {
  for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]()) waiters.splice(i, 1);
};

const es = new EventSource(`${base}/v1/events/stream?event_type=order.*`, {
  fetch: (input, init) => {
    lastEventIds.push(new Headers(init.headers).get('last-event-id'));
    return fetch(input, { ...init, headers: { ...init.headers, Authorization: `Bearer ${key}` } });
  },
});
es.addEventListener('open', () => { opens += 1; poke(); });
es.addEventListener('error', () => { errors += 1; poke(); });
es.addEventListener('envelope', (frame) => {
  const envelope = JSON.parse(frame.data);
  received.push({ event_type: envelope.event_type, event_id: envelope.event_id, last_event_id: frame.lastEventId });
  poke();
});

let outcome = 'ok';
try {
  await waitFor(() => opens === 1, 'the first open');
  await append(0, 5);
  // Not matched by order.*: must never arrive.
  await append(100, 2, (i) => `invoice.e${i}`);
  await waitFor(() => received.length >= 5, 'the first five envelopes');
  await controlPost('/_control/disconnect', { api: 'fibric' });
  await waitFor(() => errors >= 1, 'the dropped connection');
  // Appended while the client is waiting to reconnect: only Last-Event-ID brings them back.
  await append(5, 5);
  await waitFor(() => opens >= 2, 'the reconnect');
  await append(10, 2);
  await waitFor(() => received.length >= 12, 'all twelve envelopes');
  // A little longer, so that a duplicate would show.
  await new Promise((resolve) => setTimeout(resolve, 300));
} catch (error) {
  outcome = String(error);
}
es.close();
console.log(JSON.stringify({ outcome, opens, errors, lastEventIds, received }));
process.exit(outcome === 'ok' ? 0 : 1);
