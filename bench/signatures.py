"""Signature extraction: field-level precision/recall on the corpus, emails/s per core, latency,
and the CPU cost of hostile mails (one long ``Tel:`` line), which must grow linearly.

    .venv/bin/python bench/signatures.py [--rounds 20] [--hostile-kb 420]

Throughput is counted on CPU time of this one process (so it is per core, and other load on
the machine does not distort it); latency percentiles are wall-clock per message.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from email.message import EmailMessage
from pathlib import Path

from socialcrm.signatures.analysis import analyse
from socialcrm.signatures.evaluation import FIELDS, evaluate
from socialcrm.signatures.mime import parse_email

CORPUS = Path(__file__).parents[1] / "tests" / "signatures" / "corpus"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--hostile-kb", type=int, default=420, help="largest hostile mail")
    args = parser.parse_args()

    report = evaluate(CORPUS)
    print(f"corpus: {report.emails} emails ({CORPUS})")
    print(f"{'field':10} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}")
    for field in FIELDS:
        s = report.scores[field]
        print(f"{field:10} {s.precision:9.3f} {s.recall:7.3f} {s.tp:4} {s.fp:4} {s.fn:4}")

    raws = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    for raw in raws:  # warm caches (phone metadata, regexes)
        analyse(parse_email(raw))
    latencies: list[float] = []
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    for _ in range(args.rounds):
        for raw in raws:
            t0 = time.perf_counter()
            analyse(parse_email(raw))
            latencies.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    n = len(latencies)
    q = statistics.quantiles(latencies, n=100)
    print(f"\nextraction: {n} emails (MIME parse + thread split + signatures)")
    print(f"throughput: {n / cpu:,.0f} emails/s per core (CPU time), {n / wall:,.0f} emails/s wall")
    print(f"latency ms: p50 {q[49] * 1000:.2f}  p95 {q[94] * 1000:.2f}  p99 {q[98] * 1000:.2f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")

    print("\nhostile mail: one long 'Tel:' line of phone numbers (MIME parse + signatures)")
    for kb in (args.hostile_kb // 4, args.hostile_kb // 2, args.hostile_kb):
        raw = hostile_mail(kb * 1024)
        cpu_start = time.process_time()
        phones = sum(len(p.fields.phones) for p in analyse(parse_email(raw)))
        cpu = time.process_time() - cpu_start
        print(f"{len(raw) / 1024:8.0f} KB: {cpu * 1000:8.1f} ms CPU, {phones} phones kept")


def hostile_mail(size: int) -> bytes:
    numbers = " ".join(f"+49 30 {1_000_000 + i:07d}" for i in range(size // 15))
    msg = EmailMessage()
    msg["From"] = "Bob Miller <bob@example.de>"
    msg["Subject"] = "numbers"
    msg.set_content(f"Hi,\n\nsee below.\n\nBest regards,\nBob Miller\nTel: {numbers}\n")
    return bytes(msg)


if __name__ == "__main__":
    main()
