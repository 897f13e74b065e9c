"""posenc: how much absolute position information do convolutional networks encode?

A reproducible reimplementation of Islam, Jia & Bruce (ICLR 2020); docs/protocol.md is the protocol. The
data path reads top to bottom, one stage sub-package each:

    images/    image sets: decoding, embedded photos, composites with masks, data set downloads, manifests
      |
    features/  architecture registry, weights, preprocessing, extraction, the Zarr feature store
      |
    probe/     position targets, the readout (PosENet), its training, evaluation and metrics
      |        (dense/: the Table 5 networks trained from scratch, their training and scores;
      |         analysis/: analyses beyond the paper, read from the cached stores)
    report/    tables, figures, the paper's numbers, the paper's claims judged

At the top, what every stage uses: config (schema, validation), plan (what a config implies; no torch),
paths, errors, io (atomic writes, hashing), runtime (job logs, threads, device), stamps (settings stamps
that rerun jobs), verify (what is stale under results/) and the cli.
"""

__version__ = "0.3.0"
