"""The real PyPI atproto firehose client against the reference server's com.atproto.sync.subscribeRepos.

It replays from a cursor, takes COUNT frames, parses each with the SDK's models
(parse_subscribe_repos_message), decodes every #commit and #sync CAR with the
SDK's CAR.from_bytes and checks that it holds the commit block (the CAR's root,
which for a #commit must be the frame's `commit`) and, for a #commit, the block
of every op's cid. Prints one JSON report on stdout (exit 0 when "ok", 1
otherwise). A model or CAR error, a frame the SDK would skip as undecodable, an
error frame, a lost connection or 30 s without COUNT frames make it "error".
Usage: python firehose.py BASE_URL CURSOR COUNT
"""

import json
import sys
import threading
from urllib.parse import urlsplit

from atproto import CAR, FirehoseSubscribeReposClient, models, parse_subscribe_repos_message
from atproto_subscription.exceptions import SubscriptionError

TIMEOUT_SECONDS = 30

events = []
report = {}
lock = threading.Lock()
finished = threading.Event()


def finish(outcome, message=None):
    """Records the outcome once; the first one wins."""
    with lock:
        if finished.is_set():
            return
        report["outcome"] = outcome
        if message is not None:
            report["message"] = message
        finished.set()


def describe(error):
    parts = []
    while error is not None and len(parts) < 6:
        parts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return " <- ".join(parts)


class CheckedClient(FirehoseSubscribeReposClient):
    """The SDK's client, with what it would swallow turned into a report.

    The SDK skips text frames and frames it cannot decode (DAG-CBOR or frame
    header errors) and silently reconnects, from the same cursor, when the connection is lost or
    times out (recv_timeout); here both end the run as an error.
    """

    def _decode_frame(self, raw_frame):
        if isinstance(raw_frame, str):  # the SDK skips text frames silently
            finish("error", f"text frame after {len(events)} events: {raw_frame[:200]!r}")
            self.stop()
            return None
        return super()._decode_frame(raw_frame)

    def _handle_frame_decoding_error(self, exception):
        what = "error frame" if isinstance(exception, SubscriptionError) else "undecodable frame"
        finish("error", f"{what} after {len(events)} events: {describe(exception)}")
        self.stop()

    def _handle_websocket_error_or_stop(self, exception):
        if finished.is_set():
            return True
        clean = super()._handle_websocket_error_or_stop(exception)  # raises on an error frame
        how = "closed by the server" if clean else "lost"
        finish("error", f"connection {how} after {len(events)} of {count} events: {describe(exception)}")
        return True


def cid(value):
    return None if value is None else str(value)


def entry_for(frame):
    message = parse_subscribe_repos_message(frame)
    entry = {"type": frame.type}
    if isinstance(message, models.ComAtprotoSyncSubscribeRepos.Commit):
        entry.update(seq=message.seq, did=message.repo, rev=message.rev)
        car = CAR.from_bytes(message.blocks)
        if car.root != message.commit:
            raise ValueError(f"#commit seq {message.seq}: CAR root {car.root} is not the commit {message.commit}")
        if car.root not in car.blocks:
            raise ValueError(f"#commit seq {message.seq}: the CAR lacks the commit block {car.root}")
        missing = [op.path for op in message.ops if op.cid is not None and op.cid not in car.blocks]
        if missing:
            raise ValueError(f"#commit seq {message.seq}: the CAR lacks the record blocks of {missing}")
        entry["ops"] = [{"action": op.action, "path": op.path, "cid": cid(op.cid)} for op in message.ops]
    elif isinstance(message, models.ComAtprotoSyncSubscribeRepos.Sync):
        entry.update(seq=message.seq, did=message.did, rev=message.rev)
        car = CAR.from_bytes(message.blocks)
        if car.root not in car.blocks:
            raise ValueError(f"#sync seq {message.seq}: the CAR lacks the commit block {car.root}")
        entry["commit"] = str(car.root)
    elif isinstance(message, models.ComAtprotoSyncSubscribeRepos.Identity):
        entry.update(seq=message.seq, did=message.did)
        if message.handle is not None:
            entry["handle"] = message.handle
    elif isinstance(message, models.ComAtprotoSyncSubscribeRepos.Account):
        entry.update(seq=message.seq, did=message.did, active=message.active)
        if message.status is not None:
            entry["status"] = message.status
    elif isinstance(message, models.ComAtprotoSyncSubscribeRepos.Info):
        entry["name"] = message.name
        if message.message is not None:
            entry["message"] = message.message
    return entry


def on_message(frame):
    if finished.is_set():
        return
    events.append(entry_for(frame))
    if len(events) >= count:
        finish("ok")
        client.stop()


def on_callback_error(error):
    finish("error", f"frame {len(events) + 1}: {describe(error)}")
    client.stop()


def run():
    try:
        client.start(on_message, on_callback_error)
    except Exception as error:  # an error frame (SubscriptionError) or a failure to connect at all
        finish("error", describe(error))
    finish("error", f"the subscription ended after {len(events)} of {count} events")


try:
    base, cursor, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    url = urlsplit(base)
    if url.scheme not in ("http", "https") or not url.netloc or cursor < 0 or count < 1:
        raise ValueError("usage: python firehose.py BASE_URL CURSOR COUNT")
except (IndexError, ValueError) as error:
    print(json.dumps({"outcome": "error", "message": describe(error), "events": []}))
    sys.exit(1)

scheme = "wss" if url.scheme == "https" else "ws"
client = CheckedClient(
    params=models.ComAtprotoSyncSubscribeRepos.Params(cursor=cursor),
    base_uri=f"{scheme}://{url.netloc}/xrpc",
)
worker = threading.Thread(target=run, daemon=True)
worker.start()
if not finished.wait(TIMEOUT_SECONDS):
    finish("error", f"timed out after {TIMEOUT_SECONDS} s with {len(events)} of {count} events")
client.stop()
worker.join(3)  # the close handshake; the thread is a daemon if it hangs

with lock:
    report["events"] = list(events)
print(json.dumps(report))
sys.exit(0 if report["outcome"] == "ok" else 1)
