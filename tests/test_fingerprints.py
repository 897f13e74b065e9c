"""Code fingerprints follow what a job's script really imports (posenc.fingerprints)."""

import re
import shutil
from pathlib import Path

import pytest

from posenc import fingerprints

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def copy(tmp_path):
    """A copy of the posenc package and the workflow scripts, to edit."""
    shutil.copytree(
        fingerprints.PACKAGE, tmp_path / "posenc", ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    shutil.copytree(REPO / "workflow" / "scripts", tmp_path / "scripts")
    return tmp_path


def _append(path: Path, code: str) -> None:
    path.write_text(path.read_text() + code)


def test_an_edit_to_a_top_level_module_a_job_imports_changes_only_the_jobs_that_import_it(copy):
    package, scripts = copy / "posenc", copy / "scripts"
    before = fingerprints.code_fingerprints(scripts, package)
    # posenc/readout_spec.py holds ReadoutSpec (every readout job reads it); posenc/images/attribution.py
    # only the attribution page's
    _append(package / "readout_spec.py", "\n\ndef _added():\n    return 1\n")
    _append(package / "images" / "attribution.py", "\n\nADDED = 2\n")
    after = fingerprints.code_fingerprints(scripts, package)
    changed = {name for name in before if before[name] != after[name]}
    assert {"train_readout", "evaluate_readout", "write_attribution"} <= changed
    # prepare_image_set and extract_features import neither plan nor the attribution page
    assert "plan.py" not in {
        p.name for p in fingerprints.module_closure(scripts / "prepare_image_set.py", package)
    }
    assert not {"prepare_image_set", "fetch_photo_package", "extract_features"} & changed


def test_a_module_reached_only_through_another_module_counts(copy):
    package, scripts = copy / "posenc", copy / "scripts"
    # train_readout.py imports posenc.probe.training, which imports posenc.probe.targets: an edit there
    # retrains, though the script never names it
    assert "posenc.probe.targets" not in (scripts / "train_readout.py").read_text()
    before = fingerprints.code_fingerprint(scripts / "train_readout.py", package)
    _append(package / "probe" / "targets.py", "\n\nEXTRA = 3\n")
    assert fingerprints.code_fingerprint(scripts / "train_readout.py", package) != before


def test_lazy_and_relative_imports_are_followed(tmp_path):
    package = tmp_path / "posenc"
    (package / "stage").mkdir(parents=True)
    for name in ("__init__.py", "stage/__init__.py", "stage/a.py", "stage/b.py", "stage/c.py", "unused.py"):
        (package / name).write_text("X = 1\n")
    (package / "stage" / "a.py").write_text("def f():\n    from posenc.stage import b\n    return b\n")
    (package / "stage" / "b.py").write_text("from . import c\n")
    script = tmp_path / "job.py"
    script.write_text("from posenc.stage.a import f\n")
    files = {str(p.relative_to(package)) for p in fingerprints.module_closure(script, package)}
    assert files == {"__init__.py", "stage/__init__.py", "stage/a.py", "stage/b.py", "stage/c.py"}


def test_comments_docstrings_and_formatting_leave_the_fingerprint_alone(tmp_path):
    package = tmp_path / "posenc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = package / "m.py"
    script = tmp_path / "job.py"
    script.write_text("from posenc.m import f\n")
    source.write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1  # one\n')
    first = fingerprints.code_fingerprint(script, package)
    source.write_text('"""Other words."""\n\n\ndef f(x):\n    return x + 1  # a comment\n')
    assert fingerprints.code_fingerprint(script, package) == first
    source.write_text('"""Doc."""\n\ndef f(x):\n    return x + 2\n')
    assert fingerprints.code_fingerprint(script, package) != first


def test_every_rule_records_the_fingerprint_of_its_own_script():
    # a rule carrying another script's fingerprint would miss its own code's changes
    checked = 0
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        for rule in re.findall(r"^rule \w+:\n(?:(?:[ \t]+.*)?\n)*", text, re.M):
            script = re.search(r'"\.\./scripts/(\w+)\.py"', rule)
            names = set(re.findall(r'CODE\["(\w+)"\]', rule))
            dicts = re.findall(r"\*\*([A-Z_]+),", rule)
            for d in dicts:
                found = re.search(rf"^{d} = dict\((.*?)\n(?=\S)", text, re.S | re.M)
                names |= set(re.findall(r'CODE\["(\w+)"\]', found.group(1))) if found else set()
            if script and names:
                assert names == {script.group(1)}, (smk.name, rule.split(":")[0], names)
            checked += bool(script and names)
    assert checked >= 20
