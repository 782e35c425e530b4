#!/usr/bin/env python3
"""A stand-in SageMaker container for the emulator tests (the reference one is containers/recsys).

    fake_container.py <mode> [args...]
    modes: train | score | shard | fail | sleep [seconds] | bad-row | bad-line | where | connect
It follows the SageMaker contracts under /opt/ml, or under $RECSYS_OPT_ML where the emulator
cannot mount the job directory there (localstack/extension/recoflow_localstack/sagemaker/sandbox.py).
"""

import json
import os
import socket
import sys
import time
from pathlib import Path

opt_ml = Path(os.environ.get("RECSYS_OPT_ML", "/opt/ml"))
mode = sys.argv[1] if len(sys.argv) > 1 else "train"


def fail(message: str, code: int, failure_file: bool = True) -> None:
    print(message, file=sys.stderr)
    if failure_file:
        (opt_ml / "output").mkdir(parents=True, exist_ok=True)
        (opt_ml / "output/failure").write_text(message)
    sys.exit(code)


def data_rows(directory: Path) -> int:
    return sum(max(0, len(f.read_text().splitlines()) - 1) for f in sorted(directory.rglob("*")) if f.is_file())


def try_connect(address: str) -> str:
    """'connected', or why not: host:port from the job's Environment (CONNECT_TO)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return "connected"
    except OSError as e:
        return f"{type(e).__name__}: {e}"


if mode == "train":
    hp = json.loads((opt_ml / "input/config/hyperparameters.json").read_text())
    rows = data_rows(opt_ml / "input/data")
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
elif mode == "shard":
    # processing: writes <input file>.out for every users file this instance got (in subfolders
    # too), and <host>.json: its host, those files and the model's
    host = json.loads((opt_ml / "config/resourceconfig.json").read_text())["current_host"]
    inputs = opt_ml / "processing/input"
    users = sorted(f.relative_to(inputs / "users").as_posix() for f in (inputs / "users").rglob("*") if f.is_file())
    out = opt_ml / "processing/output"
    for name in users:
        (out / f"{name}.out").parent.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.out").write_text((inputs / "users" / name).read_text())
    model = sorted(p.name for p in (inputs / "model").iterdir())
    (out / f"{host}.json").write_text(json.dumps({"users": users, "model": model}))
elif mode == "fail":
    print("fake container: failing on purpose", file=sys.stderr)
    (opt_ml / "output").mkdir(parents=True, exist_ok=True)
    (opt_ml / "output/failure").write_text("InvalidInput: interactions channel has no TIMESTAMP column")
    sys.exit(2)
elif mode == "sleep":
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 60)
elif mode == "bad-row":
    # training: a data error naming the file by the path the container was given, as recsys does
    channel = Path(os.environ.get("SM_CHANNEL_INTERACTIONS", opt_ml / "input/data/interactions"))
    path = sorted(channel.iterdir())[0]
    print(f"reading {path}", file=sys.stderr)
    fields = path.read_text().splitlines()[1].split(",")
    fail(f"{path}:2: expected 4 fields, got {len(fields)}", 2)
elif mode == "bad-line":
    # processing: the same, said on stderr only (the reason is then the output's tail)
    path = sorted((opt_ml / "processing/input/users").iterdir())[0]
    fail(f"{path}:1: not a JSON object", 1, failure_file=False)
elif mode == "where":
    # training: what the container was told and what it finds at /opt/ml
    (opt_ml / "model").mkdir(parents=True, exist_ok=True)
    (opt_ml / "model/where.json").write_text(json.dumps({
        "env": {k: v for k, v in os.environ.items() if k.startswith("SM_") or k == "RECSYS_OPT_ML"},
        "cwd": os.getcwd(),
        "at_opt_ml": sorted(os.listdir("/opt/ml/input/data/interactions")) if os.path.isdir("/opt/ml/input/data") else None,
    }))
elif mode == "connect":
    # training or processing: reads its input, tries the network, writes what happened
    outcome = {"connection": try_connect(os.environ["CONNECT_TO"]),
               "aws_credentials": "AWS_ACCESS_KEY_ID" in os.environ or "AWS_SECRET_ACCESS_KEY" in os.environ}
    processing = (opt_ml / "processing").is_dir()
    inputs = opt_ml / ("processing/input" if processing else "input/data")
    outcome["inputs"] = sorted(str(f.relative_to(inputs)) for f in inputs.rglob("*") if f.is_file())
    target = opt_ml / ("processing/output" if processing else "model")
    target.mkdir(parents=True, exist_ok=True)
    (target / "connect.json").write_text(json.dumps(outcome))
else:
    sys.exit(f"unknown mode {mode}")
