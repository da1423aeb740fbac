"""The real PyPI fauna driver against the reference server.

FQL writes and an event source; a stream that sees a live change of each
kind (add, update, remove); a resume from a cursor and one from start_ts
with EventSource(token); a feed. Prints one JSON report on stdout.
Usage: python stream.py BASE_URL SECRET
"""

import json
import sys

from fauna import fql
from fauna.client import Client, FeedOptions, StreamOptions
from fauna.query.models import Document, EventSource

base, secret = sys.argv[1], sys.argv[2]
client = Client(endpoint=base, secret=secret)
report = {"outcome": "error"}


def summary(event):
    data = event.get("data")
    return {
        "type": event["type"],
        "id": data.id if isinstance(data, Document) else None,
        "status": data["status"] if isinstance(data, Document) else None,
        "cursor": event.get("cursor"),
        "txn_ts": event.get("txn_ts"),
    }


def take(stream, n):
    events = []
    for event in stream:
        events.append(summary(event))
        if len(events) == n:
            break
    return events


try:
    client.query(fql('Collection.create({ name: "PyOrders" })'))
    token = client.query(fql('PyOrders.where(.status == "open").eventSource()')).data
    report["token_class"] = type(token).__name__
    live = []
    with client.stream(token, StreamOptions(status_events=True)) as stream:
        first = next(stream)
        report["first_type"] = first["type"]
        # Live changes, made while the stream is open.
        a = client.query(fql("PyOrders.create(${d})", d={"status": "open", "n": 1})).data
        b = client.query(fql("PyOrders.create(${d})", d={"status": "closed", "n": 2})).data
        client.query(fql("PyOrders.byId(${id})!.update({ n: 2 })", id=a.id))
        client.query(fql('PyOrders.byId(${id})!.update({ status: "open" })', id=b.id))
        client.query(fql('PyOrders.byId(${id})!.update({ status: "closed" })', id=a.id))
        for event in stream:
            if event["type"] != "status":
                live.append(summary(event))
            if len(live) == 4:
                break
    report["ids"] = {"a": a.id, "b": b.id}
    report["live"] = live
    with client.stream(EventSource(token.token), StreamOptions(cursor=live[1]["cursor"])) as stream:
        report["resumed"] = take(stream, 2)
    with client.stream(EventSource(token.token), StreamOptions(start_ts=live[1]["txn_ts"])) as stream:
        report["from_time"] = take(stream, 2)
    pages = client.feed(EventSource(token.token), FeedOptions(page_size=3))
    report["feed"] = [[f"{e['type']}:{e['data'].id}" for e in page] for page in pages]
    report["outcome"] = "ok"
except Exception as error:  # the report says what broke
    report["error"] = f"{type(error).__name__}: {error}"

print(json.dumps(report))
