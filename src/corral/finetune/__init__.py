"""Fine-tuning: LoRA adapters trained on a tenant's chat examples, on the served base model.

`base` turns the served GGUF into a float copy transformers can train (cached once per base),
`data` tokenises chat examples with the model's own template (loss on assistant turns only),
`train` runs the LoRA steps (deterministic for a seed, resumable from its checkpoints), `export`
writes the adapter as a GGUF LoRA llama.cpp loads, and `handler` is the `fine_tuning` job kind
that ties them together. torch and transformers are imported only inside these modules' calls,
so the server never loads them; only a worker running a training job does. See
docs/fine_tuning.md.
"""

import os

# OpenMP reads this once, when torch first loads, which is after this package is imported (its
# modules import torch lazily): a passive wait keeps idle training threads off shared cores,
# where the default spin-wait made steps many times slower. An operator's own value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
