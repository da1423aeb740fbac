"""Reads HdrHistogram interval logs (`NAME.hlog`, V2 compressed) with the standard library only.

`harness load` writes one log per histogram (harness/src/load/hlog.rs): `#`
header lines (`#[StartTime: …]`, `#[BaseTime: …]`), the CSV legend
`"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`,
then one line per interval, `start,length,max,BASE64`, with `start` in seconds
from the base time and values in microseconds.

Each BASE64 field is a V2 compressed histogram: a big-endian int32 cookie
0x1c849304 and an int32 length, then a zlib stream holding a V2 encoding:
cookie 0x1c849303, int32 payload length, int32 normalizing index offset, int32
significant digits, int64 lowest and highest trackable values, a double
integer-to-double ratio, then the counts as ZigZag LEB128 varints of at most 9
bytes (the ninth byte whole), where -n stands for n zero counts in a row.
Both cookies are written with bits 4-7 holding a word size (0x1c849314 and
0x1c849313 from the Rust crate); as in HdrHistogram's Java decoder, those
bits are ignored.
Indices map to values as in HdrHistogram (the `hdrhistogram` crate's
`value_for`), and a percentile is the highest value equivalent to the bucket
that reaches it, as `value_at_quantile` does, so the figures here equal
those in `load.json` for the same samples.

    python3 reports/bench/hlog.py DIR/deliver.hlog [DIR/load.json]

prints each interval's count, p99 and max, and with a `load.json` compares
the sum of the intervals with that report's histogram of the same name.
"""

import base64
import math
import struct
import sys
import zlib

V2_COOKIE = 0x1C849303
V2_COMPRESSED_COOKIE = 0x1C849304
# Bits 4-7 of a cookie carry a word size, not the format.
COOKIE_BASE_MASK = ~0xF0 & 0xFFFFFFFF
HEADER = struct.Struct(">iiiiqqd")


class Histogram:
    """One histogram's layout and its non-zero counts, by index."""

    def __init__(self, digits, lowest, highest):
        self.digits = digits
        self.lowest = lowest
        self.highest = highest
        largest_single_unit = 2 * 10**digits
        self.unit_magnitude = int(math.floor(math.log2(lowest)))
        sub_bucket_count_magnitude = int(math.ceil(math.log2(largest_single_unit)))
        self.sub_bucket_half_count_magnitude = sub_bucket_count_magnitude - 1
        self.sub_bucket_count = 1 << sub_bucket_count_magnitude
        self.sub_bucket_half_count = self.sub_bucket_count // 2
        self.sub_bucket_mask = (self.sub_bucket_count - 1) << self.unit_magnitude
        self.counts = {}

    def layout(self):
        return (self.digits, self.lowest, self.highest)

    @property
    def total(self):
        return sum(self.counts.values())

    def add(self, other):
        """Adds `other`'s counts; both must have the same layout."""
        if other.layout() != self.layout():
            raise ValueError(f"histogram layouts differ: {self.layout()} and {other.layout()}")
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count

    def value_for(self, index):
        """The lowest value of the bucket at counts index `index`."""
        bucket = (index >> self.sub_bucket_half_count_magnitude) - 1
        sub_bucket = (index & (self.sub_bucket_half_count - 1)) + self.sub_bucket_half_count
        if bucket < 0:
            sub_bucket -= self.sub_bucket_half_count
            bucket = 0
        return sub_bucket << (bucket + self.unit_magnitude)

    def bucket_for(self, value):
        return (value | self.sub_bucket_mask).bit_length() - self.unit_magnitude - self.sub_bucket_half_count_magnitude - 1

    def highest_equivalent(self, value):
        """The highest value counted in the same bucket as `value`."""
        bucket = self.bucket_for(value)
        shift = bucket + self.unit_magnitude
        lowest = (value >> shift) << shift
        return lowest + (1 << shift) - 1

    def value_at_quantile(self, quantile):
        """As HdrHistogram's `value_at_quantile` (quantile in [0, 1]); None when empty."""
        total = self.total
        if total == 0:
            return None
        quantile = min(quantile, 1.0)
        wanted = max(1, math.ceil(quantile * total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= wanted:
                value = self.value_for(index)
                if quantile == 0.0:
                    return value
                return self.highest_equivalent(value)
        raise AssertionError("the counts add up to less than their total")

    def max(self):
        """The highest equivalent of the largest value recorded; None when empty."""
        if not self.counts:
            return None
        return self.highest_equivalent(self.value_for(max(self.counts)))


def read_varint(data, at):
    """A LEB128-64b9B varint at `at`: (value, next position)."""
    value = 0
    for i in range(8):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, at
    value |= data[at] << 56
    return value, at + 1


def zigzag(value):
    return (value >> 1) ^ -(value & 1)


def decode(encoded):
    """A histogram from its V2 (optionally compressed) encoding."""
    (cookie,) = struct.unpack_from(">I", encoded, 0)
    if cookie & COOKIE_BASE_MASK == V2_COMPRESSED_COOKIE:
        (length,) = struct.unpack_from(">i", encoded, 4)
        encoded = zlib.decompress(encoded[8 : 8 + length])
        (cookie,) = struct.unpack_from(">I", encoded, 0)
    if cookie & COOKIE_BASE_MASK != V2_COOKIE:
        raise ValueError(f"not a V2 histogram: cookie {cookie:#x}")
    _, length, offset, digits, lowest, highest, ratio = HEADER.unpack_from(encoded, 0)
    if offset != 0 or ratio != 1.0:
        raise ValueError(f"unsupported: normalizing offset {offset}, ratio {ratio}")
    histogram = Histogram(digits, lowest, highest)
    payload = encoded[HEADER.size : HEADER.size + length]
    if len(payload) != length:
        raise ValueError(f"the payload has {len(payload)} bytes, the header says {length}")
    at = index = 0
    while at < length:
        raw, at = read_varint(payload, at)
        count = zigzag(raw)
        if count < 0:
            index -= count
        else:
            if count:
                histogram.counts[index] = count
            index += 1
    return histogram


class Interval:
    """One line of a log: its absolute start (seconds since the epoch), length, max and histogram."""

    def __init__(self, start, length, max_column, histogram):
        self.start = start
        self.length = length
        self.max_column = max_column
        self.histogram = histogram


def read_log(path):
    """Every interval of the log at `path`, in file order."""
    base = start = None
    intervals = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                if line.startswith("#[StartTime: "):
                    start = float(line[len("#[StartTime: ") :].split()[0])
                elif line.startswith("#[BaseTime: "):
                    base = float(line[len("#[BaseTime: ") :].split()[0])
                continue
            if line.startswith('"StartTimestamp"'):
                continue
            offset, length, max_column, encoded = line.split(",", 3)
            origin = base if base is not None else (start or 0.0)
            histogram = decode(base64.b64decode(encoded))
            intervals.append(Interval(origin + float(offset), float(length), float(max_column), histogram))
    return intervals


def total(intervals):
    """The sum of the intervals' histograms; None when there are none."""
    if not intervals:
        return None
    whole = Histogram(*intervals[0].histogram.layout())
    for interval in intervals:
        whole.add(interval.histogram)
    return whole


def compare(whole, reported):
    """Disagreements between a decoded histogram and a load.json histogram summary, as sentences."""
    problems = []
    count = whole.total if whole else 0
    if count != reported.get("count", 0):
        problems.append(f"count {count}, load.json {reported.get('count', 0)}")
    if count == 0:
        return problems
    for name, mine in (("p99", whole.value_at_quantile(0.99)), ("max", whole.max())):
        theirs = reported.get(name)
        # Both are a bucket's highest value; they may differ by at most the
        # histogram's precision (10^-digits) if they were ever taken differently.
        if theirs is None or abs(mine - theirs) > max(1, theirs * 10 ** -whole.digits):
            problems.append(f"{name} {mine} µs, load.json {theirs} µs")
    return problems


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: hlog.py FILE.hlog [load.json]", file=sys.stderr)
        return 2
    intervals = read_log(argv[1])
    print("start_s,length_s,count,p99_us,max_us")
    origin = intervals[0].start if intervals else 0.0
    for interval in intervals:
        h = interval.histogram
        p99 = h.value_at_quantile(0.99)
        print(f"{interval.start - origin:.3f},{interval.length:.3f},{h.total},{p99 if p99 is not None else ''},{h.max() if h.counts else ''}")
    whole = total(intervals)
    if len(argv) == 3:
        import json
        import os

        name = os.path.basename(argv[1]).removesuffix(".hlog")
        with open(argv[2], encoding="utf-8") as f:
            reported = json.load(f)["histograms"][name]
        problems = compare(whole, reported)
        if problems:
            print(f"{name}: the intervals do not add up to load.json: {'; '.join(problems)}", file=sys.stderr)
            return 1
        print(f"{name}: the intervals add up to load.json (count {reported.get('count', 0)}, p99 {reported.get('p99')}, max {reported.get('max')})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
