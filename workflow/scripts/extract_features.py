from posenc.features.extract import extract_features
from posenc.logs import job

with job(snakemake.log[0], snakemake.threads):
    p = snakemake.params
    features = dict(p.features)
    extract_features(p.backbone, snakemake.input.manifest, snakemake.output.store, hed_path=p.hed_path,
                     input_size=p.input["size"], preprocessing=p.input["preprocessing"],
                     feature_size=features.pop("size"), device=snakemake.config["features"]["device"], **features)
