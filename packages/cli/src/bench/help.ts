export const BENCH_HELP = `Usage: cnn-xai bench [--model DIR|model.json] [--input FILE|DIR]... [--method ID]...
                     [--batch N]... [--repeat R] [--set KEY=VALUE]... [--backend NAME] [--workers N]
                     [--budget S] [--cap S] [--full] [--stat S] [--torch] [--threads N] [--json]

Times every explainer (or --method) on the model's own backend and compares it with the model's
raw cost. For each batch size (default 1 and 32): ms per image of \`explain\` (median of the timed
runs after one warm-up), the model passes it makes per image (counted through a proxy of the
model, black-box calls included), its raw cost floor (forward ms x forward-only passes +
forward+backward ms x backward passes + ..., each call priced at the raw cost of its own batch
size, measured in the same run) and the ratio to it. Each method runs with the settings of its Captum / pytorch-grad-cam / Zennit
reference (printed below the table; --set overrides). Default model and inputs: the reference
network fixtures/reference/fashion-cnn-torch (32 images), else the bundled CNN and sample images.

Slow methods get fewer timed runs (about --budget seconds per measurement) and a batch whose
single run would take over --cap seconds is skipped; both are reported.

--torch also runs fixtures/scripts/bench_torch.py with a Python that has torch (Debian's
/usr/bin/python3, or $CNN_XAI_PYTHON): the same network in PyTorch (2 threads), checked against
the tf.js logits, timed for the raw passes and minimal PyTorch equivalents of the methods, and
adds the tf.js/PyTorch ratio per method. Without torch it says so and skips.

Options:
  --model PATH      tf.js LayersModel directory or model.json
  --input PATH      images or .npy arrays as for explain (repeatable)
  -m, --method ID   explainer id; repeatable (default: all registered but visualizers)
  --batch N         batch size; repeatable (default: 1 and 32)
  --repeat R        most timed runs per measurement (default 5)
  --budget S        seconds of timed runs per measurement before runs are cut (default 5)
  --cap S           skip a batch whose estimated run exceeds S seconds (default 30; 0: never)
  --full            no budget and no cap: R runs of everything
  --stat S          median (default): median wall-clock time of the runs; min: their minimum;
                    cpu: median process CPU time (steadiest on a busy machine; PyTorch's is summed
                    over its threads, so compare it with --threads 1)
  --set KEY=VALUE   explainer options, as for explain (repeatable; ID.KEY=VALUE for one method)
  --backend NAME    auto (default), tensorflow, webgpu, wasm or cpu
  --workers N       worker threads for the timed runs: auto (default: one per CPU beyond the
                    first, on wasm and cpu) or a count, 0 for one thread. Passes are counted and
                    the floor is measured on one thread, so x floor below 1 is the threads' gain
  --torch           also time the PyTorch equivalents (needs python3 with torch)
  --threads N       PyTorch threads for --torch (default 2)
  --json            machine-readable output on stdout
  -q, --quiet       no progress or notes
  --verbose         why backends were not available, which plugins were loaded
  --plugin MODULE   also register explainers from a module (repeatable)
`;
