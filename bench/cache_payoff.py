"""Cache payoff: Table 1 on the embedded data, posenc (features cached once) vs an official-style baseline.

posenc: extract every backbone's taps once per image set into Zarr, train the heads of all five targets
together from the cache (one pass per epoch), score them from the test stores.

Baseline, as the official code works: for every target a separate readout is trained, and every epoch
every image is decoded, resized, preprocessed and pushed through the frozen backbone again; scoring
runs the backbone again for every target. Same readout, loss, optimiser and metric code as posenc.

The baseline's epochs are identical work, so by default it is timed on `--baseline-epochs` epochs of
`--baseline-targets` targets and scaled to 15 epochs x 5 targets (printed as such); `--full` runs all.

    python bench/cache_payoff.py [--train 256] [--test 64] [--full]
"""

from __future__ import annotations

import argparse
import shutil
import time

import numpy as np
import torch
from common import embedded, machine, scratch, synthetic, threads

from posenc.features.extract import FeatureConfig, extract_features, load_checked, prepare
from posenc.images.manifest import read_manifest
from posenc.probe.evaluate import evaluate_store
from posenc.probe.metrics import mae, ranks, spearman
from posenc.probe.readout import UpsampledMSE, build_heads, upsample
from posenc.probe.targets import target_stack, target_tensor
from posenc.probe.training import TrainConfig, train_heads
from posenc.readout_spec import ReadoutSpec

TARGETS = ["H", "V", "G", "HS", "VS"]
BACKBONES = {
    "PosENet": {"arch": "pixels", "weights": "none", "name": "pixels"},
    "VGG16": {"arch": "vgg16", "weights": "random", "seed": 0, "name": "vgg16_random"},
    "ResNet-152": {"arch": "resnet152", "weights": "random", "seed": 0, "name": "resnet152_random"},
}


def run_posenc(root, manifests, cfg, spec):
    """Seconds per backbone for the whole posenc path: extract (3 sets), train (5 heads), evaluate."""
    times = {}
    for label, backbone in BACKBONES.items():
        t0 = time.perf_counter()
        stores = {}
        for name, m in manifests.items():
            out = root / "features" / backbone["name"] / f"{name}.zarr"
            shutil.rmtree(out, ignore_errors=True)
            stores[name] = extract_features(
                backbone, m, out, FeatureConfig(preprocessing="official"), progress=False
            )
        heads, _, prov = train_heads(stores["train"], spec, TARGETS, cfg, seed=0, progress=False)
        for name in ("natural", "synthetic"):
            evaluate_store(heads, TARGETS, spec, stores[name], prov)
        times[label] = time.perf_counter() - t0
    return times


def run_baseline(manifests, cfg, spec, epochs, n_targets):
    """(training, scoring) seconds per backbone for `epochs` epochs of `n_targets` targets, the backbone
    recomputed for every batch."""
    times = {}
    for label, backbone in BACKBONES.items():
        extractor, prep, train_records, _ = prepare(
            backbone, manifests["train"], FeatureConfig(preprocessing="official")
        )
        extractor.eval()
        test_records = read_manifest(manifests["natural"])[1] + read_manifest(manifests["synthetic"])[1]

        def features(records, extractor=extractor, prep=prep):
            images = torch.stack(
                [load_checked(r, 224) for r in records]
            )  # decoded every time, as a DataLoader
            with torch.no_grad():
                taps = extractor(prep(images))
            return torch.cat([taps[t.name] for t in extractor.taps], 1)

        train_s = score_s = 0.0
        for target in TARGETS[:n_targets]:
            t0 = time.perf_counter()
            head = build_heads(sum(t.channels for t in extractor.taps), spec, 0, [target])
            loss_fn = UpsampledMSE(target_stack([target], 224), spec.output_size(28))
            optim = torch.optim.SGD(
                head.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
            rng = np.random.default_rng(0)
            for _ in range(epochs):
                head.train()
                order = rng.permutation(len(train_records))
                for i in range(0, len(order), cfg.batch_size):
                    x = features([train_records[k] for k in order[i : i + cfg.batch_size]])
                    loss = loss_fn(head(x)).sum()
                    optim.zero_grad()
                    loss.backward()
                    optim.step()
            head.eval()
            t1 = time.perf_counter()
            goal = target_tensor(target, 224).numpy()
            goal_ranks = ranks(goal)
            for i in range(0, len(test_records), 32):
                with torch.no_grad():
                    pred = upsample(head(features(test_records[i : i + 32])), 224).numpy()
                for p in pred[:, 0]:
                    spearman(p, goal, goal_ranks), mae(p, goal)
            train_s += t1 - t0
            score_s += time.perf_counter() - t1
        times[label] = (train_s, score_s)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=256, help="embedded training crops (the default config's)")
    ap.add_argument("--test", type=int, default=64, help="embedded natural test crops")
    ap.add_argument("--baseline-epochs", type=int, default=1)
    ap.add_argument("--baseline-targets", type=int, default=1)
    ap.add_argument("--full", action="store_true", help="run the baseline's 15 epochs x 5 targets in full")
    args = ap.parse_args()
    n_threads = threads()
    root = scratch("payoff")
    manifests = {
        "train": embedded(root, "train", args.train),
        "natural": embedded(root, "test", args.test),
        "synthetic": synthetic(root),
    }
    cfg = TrainConfig()  # docs/protocol.md §5: 15 epochs, batch 32, SGD lr 0.1
    spec = ReadoutSpec()  # L=1, k=3, p=0, all taps
    epochs, n_targets = (
        (cfg.epochs, len(TARGETS)) if args.full else (args.baseline_epochs, args.baseline_targets)
    )

    ours = run_posenc(root, manifests, cfg, spec)
    measured = run_baseline(manifests, cfg, spec, epochs, n_targets)
    # training scales with epochs x targets; scoring (one pass per target) with targets only
    scale = (cfg.epochs * len(TARGETS)) / (epochs * n_targets)
    base = {k: tr * scale + sc * len(TARGETS) / n_targets for k, (tr, sc) in measured.items()}

    print(f"machine: {machine()}; {n_threads} threads")
    print(
        f"Table 1, one seed: {args.train} training crops, {args.test} natural + 3 synthetic test images, "
        f"5 targets, 15 epochs, batch 32"
    )
    how = (
        "run in full"
        if args.full
        else (
            f"timed on {epochs} epoch(s) x {n_targets} target(s); training "
            f"scaled x{scale:g}, scoring x{len(TARGETS) / n_targets:g}"
        )
    )
    print(f"{'backbone':<12} {'posenc':>10} {'baseline':>12}   ratio   (baseline {how})")
    for label in BACKBONES:
        print(f"{label:<12} {ours[label]:9.1f}s {base[label]:11.1f}s {base[label] / ours[label]:7.1f}x")
    total_ours, total_base = sum(ours.values()), sum(base.values())
    print(
        f"{'Table 1':<12} {total_ours:9.1f}s {total_base:11.1f}s {total_base / total_ours:7.1f}x  (target >= 30x)"
    )


if __name__ == "__main__":
    main()
