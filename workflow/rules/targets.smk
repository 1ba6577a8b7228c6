# What `snakemake` builds by default, stage by stage.


def all_targets():
    targets = []
    return targets
