"""How fast the shapes world generates data (utils.data.shapes, shapes_language, shapes_questions).

    .venv/bin/python benchmarks/shapes_speed.py                 # 2000 scenes, 3 repeats
    .venv/bin/python benchmarks/shapes_speed.py --count 5000 --repeats 5

Measures, single-threaded on the CPU, the median over repeats of:
- scenes per second of ``make_scenes("train", count)`` (seeding, layout, drawing);
- scenes per second of ``images_array`` + ``grid_labels`` on those scenes (arrays for torch);
- scenes per second of ``captions`` (5 per scene) and of ``questions`` (one per type);
- questions per second of ``question_set("train", count)`` (balanced, scenes included).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.data import shapes, shapes_language, shapes_questions  # noqa: E402


def median_seconds(work, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="scenes (and questions) per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.count
    scenes = shapes.make_scenes("train", n)
    rows = [
        ("make_scenes", "scenes/s", n, lambda: shapes.make_scenes("train", n)),
        ("images_array + grid_labels", "scenes/s", n,
         lambda: (shapes.images_array(scenes), shapes.grid_labels(scenes))),
        ("captions (5 each)", "scenes/s", n, lambda: [shapes_language.captions(s) for s in scenes]),
        ("questions (one per type)", "scenes/s", n, lambda: [shapes_questions.questions(s) for s in scenes]),
        ("question_set", "questions/s", n, lambda: shapes_questions.question_set("train", n)),
    ]
    print(f"shapes world speed: {n} items, median of {args.repeats} repeats")
    for name, unit, items, work in rows:
        seconds = median_seconds(work, args.repeats)
        print(f"  {name:<28} {items / seconds:>10,.0f} {unit}  ({seconds * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
