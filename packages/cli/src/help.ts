/** Help texts, kept apart from the commands so `--help` does not load TensorFlow.js. */

export const HELP = `Usage: cnn-xai <command> [options]

Explains what image CNNs (TensorFlow.js LayersModels) look at.

Commands:
  list      the registered explainers, with their kinds and options
  explain   attribution maps for images: PNG overlays, .npy arrays or JSON
  evaluate  score methods with metrics: deletion/insertion, Average Drop/Increase,
            pointing games, Bbox, mIoU, sanity checks, infidelity, max-sensitivity
  report    every registered method against every metric that applies, on a fixture
  bench     ms per image of each method, next to the model's forward/backward cost

Run \`cnn-xai <command> --help\` for a command's options.

Global options:
  -h, --help       this help
  -v, --version    the version

Examples:
  cnn-xai list
  cnn-xai explain --method grad-cam --out out.png
  cnn-xai explain --model ./my-model --input cat.jpg -m integrated-gradients --set steps=32 --out ig.json
  cnn-xai evaluate -m grad-cam -m gradient --metric deletion --metric insertion
  cnn-xai report --out report/
  cnn-xai bench --method gradient --batch 1 --batch 32

Environment: CNN_XAI_DEBUG=1 prints stack traces of errors.
`;

export const LIST_HELP = `Usage: cnn-xai list [--json] [--kind KIND] [--family NAME] [--plugin MODULE]...

Lists the registered explainers: id, name, kind, family and options (with defaults,
ranges and choices). Options are set with \`cnn-xai explain --set NAME=VALUE\`.

Options:
  --json            machine-readable output: an array of explainers with full option specs
  --kind KIND       only explainers of this kind (gradient, cam, perturbation, relevance,
                    visualization)
  --family NAME     only explainers of this family (the plugin's family, e.g. cam)
  --plugin MODULE   also register explainers from a module (package name or path; repeatable)
  -q, --quiet       no warnings
  --verbose         say which plugins registered what
  -h, --help        this help
`;

export const EXPLAIN_HELP = `Usage: cnn-xai explain [--model DIR|model.json] [--input FILE|DIR]... [--method ID]...
                       [--target N|top] [--layer NAME] [--set KEY=VALUE]... [--seed N]
                       [--backend NAME] [--workers N] [--format png|npy|json] [--quiet] --out FILE|DIR

Explains what the model looks at in each input image, with one or more methods.

Inputs and model:
  --model PATH      tf.js LayersModel directory or model.json (default: the bundled
                    Fashion-MNIST CNN)
  --input PATH      PNG or JPEG image (converted to the model's channels and resized to its
                    size, with a warning), .npy float32 array (N,H,W,C) used as is ((H,W,C)
                    and, for 1-channel models, (N,H,W) also work), or a directory of them;
                    repeatable (default: the bundled sample images)

Method:
  -m, --method ID   explainer id (see \`cnn-xai list\`); repeatable (default: grad-cam)
  --target T        class to explain: top (the predicted class, default), an index, or one
                    index per image (comma-separated)
  --layer NAME      layer for methods that use one (same as --set layer=NAME)
  --set KEY=VALUE   an explainer option, e.g. --set steps=32; with several methods it goes
                    to those that have it, or use --set ID.KEY=VALUE; repeatable
  --seed N          seed of the random stream (stochastic methods)
  --backend NAME    auto (default), tensorflow, webgpu, wasm or cpu
  --workers N       worker threads that share many-pass methods' batches: auto (default: one
                    per CPU beyond the first, on wasm and cpu), or a count (0: one thread)

Output:
  -o, --out PATH    a file (.png heatmap overlay, .npy float32 attributions, .json maps and
                    metadata), a directory (one file per method id: <id>.png, ...; with
                    several images, PNGs per image also go to <id>/<image>.png), or - for
                    JSON on stdout. Several methods need a directory.
  --format LIST     format(s) written into a directory: png, npy, json or a comma list
                    (default png)
  -q, --quiet       no progress, notes or warnings (errors still go to stderr)
  --verbose         why backends were not available, which plugins were loaded
  --plugin MODULE   also register explainers from a module (package name or path; repeatable)

Examples:
  cnn-xai explain --method grad-cam --out out.png
  cnn-xai explain --input shirt.png --method integrated-gradients --set steps=32 --out ig.npy
  cnn-xai explain -m gradient -m grad-cam --format png,json --out maps/
`;

// The bench help lives with the bench (packages/cli/src/bench/help.ts).
export { BENCH_HELP } from './bench/help.js';

const METRIC_IDS = `  deletion                ↓ Deletion AUC (RISE): pixels removed by decreasing attribution
  insertion               ↑ Insertion AUC (RISE): pixels copied into a blurred image
  average-drop            ↓ Average Drop % (Grad-CAM++, SISE variant: top 15% kept)
  increase-in-confidence  ↑ Increase in Confidence %
  pointing-game           ↑ pointing game (max point within 15 px at 224, scaled)   [masks/boxes]
  energy-pointing-game    ↑ energy-based pointing game (Score-CAM), alias ebpg       [masks/boxes]
  bbox                    ↑ Bbox (IBA, SISE): top-N pixels inside the box            [masks/boxes]
  miou                    ↑ mIoU of the top 20% pixels with the mask                 [masks/boxes]
  infidelity              ↓ infidelity (Yeh et al., Captum)
  max-sensitivity         ↓ max-sensitivity (Yeh et al., Captum): re-runs the method
  sanity-cascading        ↓ sanity check, cascading randomisation (Adebayo et al.)
  sanity-independent      ↓ sanity check, independent randomisation`;

export const EVALUATE_HELP = `Usage: cnn-xai evaluate [--model DIR|model.json] [--input FILE|DIR]... [--method ID]...
                        [--metric ID]... [--masks FILE]... [--boxes FILE] [--target N|top|label]
                        [--set KEY=VALUE]... [--seed N] [--images N] [--backend NAME] [--workers N]
                        [--out FILE.json|FILE.md|-] [--summary] [--all]

Explains the inputs with each method, then scores the maps with each metric. Prints a
Markdown table (methods x metrics, the best value of each column in bold) unless --out says
otherwise. Targets are resolved once, so every method explains the same classes.

Inputs and model (as for explain):
  --model PATH      tf.js LayersModel directory or model.json (default: the bundled
                    Fashion-MNIST CNN)
  --input PATH      images, .npy arrays, or directories of them (default: the bundled
                    sample images); a samples.json, or a directory holding one, is read
                    through it: its entries' "file" are the inputs, "mask" and "box" the
                    ground truth, "label" the class
  --images N        only the first N images
  --masks PATH      ground-truth masks: PNG/JPEG files (one per image, in input order; a
                    pixel is inside when its first channel > 127), a directory of them, a
                    .npy (N,H,W) array (> 0.5 inside), or a samples.json ([{file, mask, box}],
                    matched to the inputs by file name); at the model's input size
  --boxes FILE      a JSON array of boxes [x0, y0, x1, y1] (inclusive pixel coordinates, x =
                    column), one per image, or of {file, box} objects (samples.json works)

Methods and metrics:
  -m, --method ID   explainer id; repeatable (default: grad-cam)
  --metric ID       metric id (or a comma list, or all); repeatable. Default: deletion,
                    insertion, average-drop, increase-in-confidence, and the localisation
                    metrics when there is ground truth
  --target T        top (the predicted class, default), an index, one index per image
                    (comma-separated), or label (the class from samples.json/labels.json)
  --set KEY=VALUE   an option of the methods or metrics that have it (e.g. --set step=8 for
                    deletion and insertion), or ID.KEY=VALUE for one method or metric
  --seed N          seed of every random stream (default 0)
  --backend NAME    auto (default), tensorflow, webgpu, wasm or cpu
  --workers N       worker threads that share many-pass methods' batches: auto (default: one
                    per CPU beyond the first, on wasm and cpu), or a count (0: one thread)

Output:
  -o, --out PATH    FILE.json (the report: per metric the mean, per-image values, details),
                    FILE.md (the table), or - (JSON on stdout); default: the table on stdout
  --summary         leave per-image values and details out of the JSON
  --all             every registered method against every metric that applies: the same as
                    \`cnn-xai report\` (its options --full and --fixture apply)
  -q, --quiet       no progress or notes
  --verbose         why backends were not available, which plugins were loaded
  --plugin MODULE   also register explainers from a module (repeatable)

Metrics (↑ higher is better, ↓ lower is better):
${METRIC_IDS}

Examples:
  cnn-xai evaluate -m grad-cam -m gradient --out eval.json
  cnn-xai evaluate --model fixtures/models/shapes-net --input fixtures/images/shapes \\
    -m grad-cam --metric pointing-game --metric ebpg --metric bbox --metric miou --target label
  cnn-xai evaluate -m integrated-gradients --metric infidelity --metric max-sensitivity \\
    --set integrated-gradients.steps=16 --set max-sensitivity.samples=5
  cnn-xai evaluate -m gradient -m guided-backprop --metric sanity-cascading --out sanity.md
`;

export const REPORT_HELP = `Usage: cnn-xai report [--fixture shapes|fashion] [--full] [--images N] [--method ID]...
                      [--metric ID]... [--set KEY=VALUE]... [--seed N] [--backend NAME]
                      [--model PATH --input PATH [--masks PATH] [--boxes FILE]] [--out PATH]

Runs every registered explainer (or --method) against every metric that applies on a fixture
and writes the report as JSON and a Markdown table. Default fixture: shapes (64x64 colour
images with object masks and boxes, so the localisation metrics apply) when present, else
fashion (no localisation metrics). Targets: the labelled class when there is ground truth,
else the predicted class (--target overrides).

Fast by default: one image per class; methods with a samples option above 1000 (RISE,
KernelSHAP) use 1000; max-sensitivity (3 samples) and the cascading sanity check (at most 6
steps: blocks of layers) on the first 3 images only; no independent sanity check. --full:
every image for every metric, the methods' and metrics' own defaults (max-sensitivity 10
samples, a step per layer) and both sanity checks. --set overrides any of these.

Options:
  --fixture NAME    shapes or fashion
  --full            the full run (slow)
  --images N        the first N images (instead of one per class)
  --model, --input, --masks, --boxes
                    a custom model and inputs, as for evaluate
  -m, --method ID   only these methods (repeatable)
  --metric ID       only these metrics (repeatable; all: every metric that applies)
  --set KEY=VALUE   method or metric options, as for evaluate
  --seed N          seed of every random stream (default 0)
  -o, --out PATH    FILE.json or FILE.md (both are written, side by side), a directory
                    (report.json and report.md in it), or - (JSON on stdout); default: the
                    table on stdout
  --summary         leave per-image values and details out of the JSON
  -q, --quiet, --verbose, --plugin MODULE, --backend NAME, --workers N: as for evaluate

Examples:
  cnn-xai report --out report/
  cnn-xai report --fixture fashion --method grad-cam --method gradient
  cnn-xai report --full --out site/src/data/evaluation.json
`;
