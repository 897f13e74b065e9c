rule make_figure:
    input:
        figure_files,
    output:
        png=report(
            paths.figure("{figure}"),
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    params:
        runs=figure_params,
        version=__version__,
    log:
        "logs/make_figure/{figure}.log",
    script:
        "../scripts/make_figure.py"


rule compare_with_paper:
    input:
        tables=[paths.table(t, "csv") for t in config["tables"]],
        markdown=[paths.table(t, "md") for t in config["tables"]],
        dense=all_dense_tables(),
    output:
        md=report(paths.COMPARISON, caption="../report/comparison.rst", category="Comparison"),
    params:
        version=__version__,
    log:
        "logs/compare_with_paper/paper_comparison.log",
    script:
        "../scripts/compare_with_paper.py"
