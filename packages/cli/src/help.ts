/** Help texts, kept apart from the commands so `--help` does not load TensorFlow.js. */

export const HELP = `Usage: cnn-xai <command> [options]

Explains what image CNNs (TensorFlow.js LayersModels) look at.

Commands:
  list      the registered explainers, with their kinds and options
  explain   attribution maps for images: PNG overlays, .npy arrays or JSON
  bench     ms per image of each method, next to the model's forward/backward cost

Run \`cnn-xai <command> --help\` for a command's options.

Global options:
  -h, --help       this help
  -v, --version    the version

Examples:
  cnn-xai list
  cnn-xai explain --method grad-cam --out out.png
  cnn-xai explain --model ./my-model --input cat.jpg -m integrated-gradients --set steps=32 --out ig.json
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
                       [--backend NAME] [--format png|npy|json] [--quiet] --out FILE|DIR

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

export const BENCH_HELP = `Usage: cnn-xai bench [--model DIR|model.json] [--input FILE|DIR]... [--method ID]...
                     [--batch N]... [--backend NAME] [--repeat R] [--set KEY=VALUE]... [--json]

Times each method and the model's own cost on the same backend. For each method (default:
all registered) and batch size (default 1 and 32): ms per image of \`explain\` (the median of
R timed runs after one warm-up), next to the raw forward and forward+backward (gradient at
the input) ms per image, and the ratio of each method to forward+backward. Also counts the
model passes each method makes per image (forward, backward, and head-only runs from a layer).
Inputs are the sample images (or --input), repeated to fill each batch; targets are the
predicted classes, resolved once before timing.

Options:
  --model PATH      tf.js LayersModel directory or model.json (default: the bundled CNN)
  --input PATH      images or .npy arrays as for explain (repeatable)
  -m, --method ID   explainer id; repeatable (default: all registered)
  --batch N         batch size; repeatable (default: 1 and 32)
  --repeat R        timed runs per measurement (default 3)
  --set KEY=VALUE   explainer options, as for explain (repeatable)
  --backend NAME    auto (default), tensorflow, webgpu, wasm or cpu
  --json            machine-readable output on stdout
  -q, --quiet       no progress or notes
  --verbose         why backends were not available, which plugins were loaded
  --plugin MODULE   also register explainers from a module (repeatable)
`;
