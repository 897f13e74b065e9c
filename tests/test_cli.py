import subprocess
import sys

from posenc.cli import main
from tests.helpers import write


def test_inspect_prints_taps_and_provenance(tmp_path, capsys):
    write(tmp_path / "s.zarr")
    assert main(["inspect", str(tmp_path / "s.zarr")]) == 0
    out = capsys.readouterr().out
    assert "low" in out and "high" in out and "compression ratio" in out and "image_list_hash" in out


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "none.zarr")]) == 1
    assert "no feature store" in capsys.readouterr().err


def test_archs_and_validate_config_commands(root):
    out = subprocess.run([sys.executable, "-m", "posenc.cli", "archs"], capture_output=True, text=True).stdout
    assert "relu5_3" in out and "layer4" in out and "2048" in out
    bad = root / "config" / "config.yaml"
    assert main(["validate-config", str(bad)]) == 0


def test_show_config_prints_every_default(root, capsys):
    import yaml

    assert main(["show-config", str(root / "config" / "config.yaml")]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["features"]["align_corners"] is True and shown["training"]["lr"] == 0.1  # schema defaults
    assert shown["training"]["steps"] == 180 and shown["training"]["input_norm"] == "scale"  # the file's own


def test_backbones_and_layers_commands(capsys):
    from posenc.cli import WHEEL_SOURCES
    from posenc.features.wheels import WHEELS

    assert sorted(WHEEL_SOURCES) == sorted(WHEELS)
    assert main(["backbones", "--library", "torchvision"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "resnet50  (torchvision 0.29.1)" in out and len(out) == 68
    assert main(["layers", "resnet18", "--input-size", "64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = [line.split()[1] for line in lines if line.startswith("*")]
    assert marked == ["relu", "layer1", "layer2", "layer3", "layer4"]
    assert any(line.split()[0] == "layer4.1.conv2" and "(512, 2, 2)" in line for line in lines)
