"""lm-evaluation-harness `local-completions` on mc40 against corral, with lm-eval's defaults
(`tokenized_requests=True`, a batch of 4), the tokenizer built from the GGUF's own metadata.

Run in its own venv (lm-eval[api], transformers, gguf, torch):
`lm_eval_mc40.py GGUF CORPUS [CONTEXT]`, CORPUS a JSONL of `choices` and `answer` (an index)
with the fields CONTEXT names (a Jinja template, `Question: {{question}}\\nAnswer:` unless
given; `bench/evals.py` passes a built-in suite's own). Prints one JSON line: accuracy and
every item's picked option, for `clients_check.py` to compare with llama.cpp's own picks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import API_KEY, BASE_URL, MODEL
from transformers import AutoTokenizer

TASK = """task: mc40
dataset_path: json
dataset_kwargs:
  data_files:
    test: {corpus}
test_split: test
output_type: multiple_choice
doc_to_text: {context}
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
  - metric: acc_norm
"""


CONTEXT = "Question: {{question}}\nAnswer:"


def main(gguf: Path, corpus: Path, context: str = CONTEXT) -> None:
    with tempfile.TemporaryDirectory() as work:
        tokenizer = Path(work) / "tokenizer"
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(tokenizer)
        tasks = Path(work) / "tasks"
        tasks.mkdir()
        (tasks / "mc40.yaml").write_text(TASK.format(corpus=corpus, context=json.dumps(context)))
        out = Path(work) / "out"
        args = f"base_url={BASE_URL}/completions,model={MODEL},tokenizer={tokenizer}"
        args += ",tokenized_requests=True,num_concurrent=1,max_retries=1"
        env = {**os.environ, "OPENAI_API_KEY": API_KEY, "HF_HUB_OFFLINE": "1"}
        harness = Path(sys.executable).parent / "lm_eval"
        command = [str(harness), "--model", "local-completions", "--model_args", args]
        command += ["--tasks", "mc40", "--include_path", str(tasks), "--batch_size", "4"]
        command += ["--log_samples", "--output_path", str(out)]
        subprocess.run(command, env=env, check=True, capture_output=True)
        results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["mc40"]
        picks = {}
        for line in next(out.rglob("samples_mc40_*.jsonl")).read_text().splitlines():
            sample = json.loads(line)
            scores = [float(resp[0]) for resp in sample["filtered_resps"]]
            picks[sample["doc_id"]] = max(range(len(scores)), key=scores.__getitem__)
    print(json.dumps({"acc": results["acc,none"], "picks": [picks[i] for i in sorted(picks)]}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
