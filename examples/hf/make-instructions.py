#!/usr/bin/env python3
"""Builds examples/hf/fortunes-instructions.jsonl from the Debian fortunes corpus
(/usr/share/games/fortunes, installed by .ci/install-data). Two honest constructions:

1. Every fortune written as a question and answer ("Q: ... A: ...") becomes
   {"instruction": question, "output": answer}.
2. Short multi-line fortunes from a few files become
   {"instruction": "Continue this <file> fortune.", "input": first line,
    "output": the remaining lines}.

Deterministic: files and fortunes in corpus order, no sampling.
"""
import json, os, re, sys

CORPUS = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/games/fortunes"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "fortunes-instructions.jsonl")
CONTINUE_FILES = ["computers", "linux", "science", "wisdom"]
MAX_CHARS = 320
MAX_CONTINUATIONS = 400


def fortunes(name):
    path = os.path.join(CORPUS, name)
    with open(path, encoding="utf-8", errors="replace") as f:
        for d in f.read().split("\n%\n"):
            d = d.strip("\n")
            if d.strip():
                yield d


examples = []
for name in sorted(os.listdir(CORPUS)):
    if "." in name or os.path.isdir(os.path.join(CORPUS, name)):
        continue
    for d in fortunes(name):
        m = re.match(r"^\s*Q:\s*(.+?)\n\s*A:\s*(.+)$", d, re.S)
        if m and "\nQ:" not in m.group(1) and len(d) <= 2 * MAX_CHARS:
            examples.append({"instruction": " ".join(m.group(1).split()), "output": m.group(2).strip()})
continuations = 0
for name in CONTINUE_FILES:
    for d in fortunes(name):
        lines = d.split("\n")
        if len(lines) >= 2 and len(d) <= MAX_CHARS and continuations < MAX_CONTINUATIONS and not d.lstrip().startswith("Q:"):
            examples.append({"instruction": "Continue this %s fortune." % name,
                             "input": lines[0].strip(), "output": "\n".join(lines[1:]).strip()})
            continuations += 1
with open(OUT, "w", encoding="utf-8") as f:
    for e in examples:
        f.write(json.dumps(e, ensure_ascii=False) + "\n")
print("wrote %d examples (%d question/answer, %d continuations) to %s" % (len(examples), len(examples) - continuations, continuations, OUT))
