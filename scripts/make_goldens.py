#!/usr/bin/env python3
"""Regenerates every HF-oracle fixture under tests/fixtures/ (needs `scripts/install-deps.sh --oracle`
and a built `build/jitgen`). Each part is its own script; this runs them all in order."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PARTS = ["goldens_tokenizer.py", "goldens_model.py", "goldens_families.py", "goldens_processors.py",
         "goldens_generation.py", "goldens_chat_templates.py", "goldens_demo_model.py"]

for part in PARTS:
    path = os.path.join(HERE, part)
    if not os.path.exists(path):
        continue
    print(f"== {part}", file=sys.stderr)
    subprocess.run([sys.executable, path], check=True, cwd=os.path.dirname(HERE))
