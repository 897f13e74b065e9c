FIGURE = dict(plan=figure_plan, code=CODE["make_figure"])
COMPARISON = dict(tables=plan.report_tables(config), code=CODE["compare_with_paper"])


rule make_figure:
    input:
        unpack(figure_inputs),
        stamp=stamp("make_figure", **FIGURE),
    output:
        png=report(
            paths.figure("{figure}"),
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        "logs/make_figure/{figure}.log",
    conda:
        ENV
    params:
        **FIGURE,
    script:
        "../scripts/make_figure.py"


rule compare_with_paper:
    input:
        csv=[paths.table(t, "csv") for t in plan.report_tables(config)],
        md=[paths.table(t, "md") for t in plan.report_tables(config)],
        stamp=stamp("compare_with_paper", **COMPARISON),
    output:
        md=report(paths.COMPARISON, caption="../report/comparison.rst", category="Comparison"),
    log:
        "logs/compare_with_paper/paper_comparison.log",
    conda:
        ENV
    params:
        **COMPARISON,
    script:
        "../scripts/compare_with_paper.py"
