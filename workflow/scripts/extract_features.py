from posenc.features.extract import FeatureConfig, extract_features
from posenc.runtime import job

with job(snakemake.log[0], snakemake.threads):
    p = snakemake.params
    extract_features(
        p.backbone,
        snakemake.input.manifest,
        snakemake.output.store,
        FeatureConfig.from_dict(p.features),
        device=p.device,
        weights_file=snakemake.input.get("weights"),
    )
