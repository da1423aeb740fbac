"""Medians of the runs of reports/bench/peers.sh, and each figure as a ratio reference / peer.

Usage: python3 compare.py reports/bench/peers/<api>

Reads runs/<peer|reference>/<cell>/r<N>/load.json, prints a Markdown table and
writes results.md and results.json beside runs/. Rates are events a second:
`publish_rate` is what the server acknowledged while the closed loop ran,
`deliver_rate` what all subscribers received, over the run and its drain.
Latencies are `ack_deliver`, from the publisher's acknowledgement to the
delivery, in milliseconds. A ratio above 1 is better for rates; for latencies
it is reference / peer too, so below 1 is better.
"""

import json
import statistics
import sys
from pathlib import Path

FIGURES = [
    ("published/s", lambda l: l["rates"]["publish_rate"], "rate"),
    ("delivered/s", lambda l: l["rates"]["deliver_rate"], "rate"),
    ("ack→deliver p50 ms", lambda l: l["histograms"]["ack_deliver"].get("p50", 0) / 1000, "latency"),
    ("ack→deliver p99 ms", lambda l: l["histograms"]["ack_deliver"].get("p99", 0) / 1000, "latency"),
]


def cell_key(name):
    """Sorts cells by their numbers: batch, publishers, subscribers."""
    parts = name.split("-")
    return [int(p) if p.isdigit() else p for p in parts]


def load_runs(root):
    runs = {}
    for path in sorted(root.glob("runs/*/*/r*/load.json")):
        who, cell = path.parts[-4], path.parts[-3]
        runs.setdefault((who, cell), []).append(json.loads(path.read_text()))
    return runs


def summarise(loads):
    out = {"runs": len(loads)}
    for label, get, _ in FIGURES:
        values = [get(l) for l in loads]
        out[label] = {"median": statistics.median(values), "values": values}
    out["lost"] = sum(l["counters"]["lost"] for l in loads)
    out["publish_errors"] = sum(l["counters"]["publish_errors"] for l in loads)
    out["subscriber_errors"] = sum(l["counters"]["subscriber_errors"] for l in loads)
    return out


def ratio(ours, theirs):
    if not theirs:
        return None
    return ours / theirs


def main():
    root = Path(sys.argv[1])
    runs = load_runs(root)
    cells = sorted({cell for (_, cell) in runs}, key=cell_key)
    results = []
    for cell in cells:
        row = {"cell": cell}
        for who in ("peer", "reference"):
            if (who, cell) in runs:
                row[who] = summarise(runs[(who, cell)])
        if "peer" in row and "reference" in row:
            row["ratio"] = {
                label: ratio(row["reference"][label]["median"], row["peer"][label]["median"])
                for label, _, _ in FIGURES
            }
        results.append(row)

    def fmt(x, digits=1):
        return "-" if x is None else f"{x:,.{digits}f}"

    lines = [
        "| cell | " + " | ".join(f"{label} peer | reference | ratio" for label, _, _ in FIGURES)
        + " | lost (peer/ref) | errors (peer/ref) |",
        "|---|" + "---:|---:|---:|" * len(FIGURES) + "---:|---:|",
    ]
    for row in results:
        cells_out = [row["cell"]]
        for label, _, kind in FIGURES:
            digits = 2 if kind == "latency" else 0
            peer = row.get("peer", {}).get(label, {}).get("median")
            ref = row.get("reference", {}).get(label, {}).get("median")
            r = row.get("ratio", {}).get(label)
            cells_out += [fmt(peer, digits), fmt(ref, digits), "-" if r is None else f"{r:.2f}×"]
        lost = f'{row.get("peer", {}).get("lost", "-")}/{row.get("reference", {}).get("lost", "-")}'
        errors = "/".join(
            str(row.get(who, {}).get("publish_errors", 0) + row.get(who, {}).get("subscriber_errors", 0))
            if who in row else "-"
            for who in ("peer", "reference")
        )
        cells_out += [lost, errors]
        lines.append("| " + " | ".join(cells_out) + " |")
    table = "\n".join(lines) + "\n"
    machine = root / "machine.txt"
    header = f"# {root.name}: reference / peer\n\n"
    if machine.exists():
        header += "```\n" + machine.read_text() + "```\n\n"
    header += "Medians of the repeats per cell; `lost` and errors are summed over them.\n\n"
    (root / "results.md").write_text(header + table)
    (root / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    sys.stdout.write(table)


if __name__ == "__main__":
    main()
