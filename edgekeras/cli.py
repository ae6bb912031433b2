"""The `edgekeras` command line (tvmc-style). Errors are one clear line on stderr, never a traceback."""

import argparse
import json
import sys

from edgekeras import __version__


def _inspect(args):
    from edgekeras.models import load_model
    from edgekeras.models.summary import layer_macs, weight_bytes

    model = load_model(args.model, compile=False)
    rows = [
        {"name": layer.name, "class_name": type(layer).__name__, "params": layer.count_params(),
         "macs": layer_macs(model, layer)}
        for layer in model.layers
    ]
    report = {
        "model": model.name,
        "layers": rows,
        "params": model.count_params(),
        "weight_bytes": weight_bytes(model),
        "macs": sum(r["macs"] for r in rows),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        model.summary()
        print(f" Weight bytes: {report['weight_bytes']:,}")


def build_parser():
    parser = argparse.ArgumentParser(prog="edgekeras", description="Keras models to edge targets.")
    parser.add_argument("--version", action="version", version=f"edgekeras {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="layers, parameters, MACs per layer and weight bytes of a model file")
    inspect.add_argument("model", help="a .keras or legacy .h5 model file")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, OSError) as err:
        print(f"edgekeras {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
