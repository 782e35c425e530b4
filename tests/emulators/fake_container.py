#!/usr/bin/env python3
"""A stand-in SageMaker container for the emulator tests (the reference one is containers/recsys).

    fake_container.py <mode> [args...]   modes: train | score | fail | sleep
It follows the SageMaker contracts under $RECSYS_OPT_ML (the emulator's per-job /opt/ml).
"""

import json
import os
import sys
import time
from pathlib import Path

opt_ml = Path(os.environ["RECSYS_OPT_ML"])
mode = sys.argv[1] if len(sys.argv) > 1 else "train"

if mode == "train":
    hp = json.loads((opt_ml / "input/config/hyperparameters.json").read_text())
    rows = 0
    for f in sorted((opt_ml / "input/data").rglob("*")):
        if f.is_file():
            rows += max(0, len(f.read_text().splitlines()) - 1)
    (opt_ml / "model").mkdir(parents=True, exist_ok=True)
    (opt_ml / "model/model.json").write_text(json.dumps({"rows": rows, "hyperparameters": hp}))
elif mode == "score":
    inputs = opt_ml / "processing/input"
    model_files = [p.name for p in (inputs / "model").iterdir()]
    out = opt_ml / "processing/output"
    out.mkdir(parents=True, exist_ok=True)
    for f in (inputs / "users").iterdir():
        lines = []
        for line in f.read_text().splitlines():
            query = json.loads(line)
            lines.append(json.dumps({"input": query, "output": {"recommendedItems": ["i1"], "scores": [1.0]},
                                     "error": None, "model": model_files}))
        (out / (f.name + ".out")).write_text("\n".join(lines) + "\n")
elif mode == "fail":
    print("fake container: failing on purpose", file=sys.stderr)
    (opt_ml / "output").mkdir(parents=True, exist_ok=True)
    (opt_ml / "output/failure").write_text("InvalidInput: interactions channel has no TIMESTAMP column")
    sys.exit(2)
elif mode == "sleep":
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 60)
else:
    sys.exit(f"unknown mode {mode}")
