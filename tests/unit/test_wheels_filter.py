"""Reading the operator's handler wheels (plugins/filter/wheels.py)."""

import importlib.util
import zipfile
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

SPEC = importlib.util.spec_from_file_location(
    "wheels_filter", Path(__file__).resolve().parents[2] / "plugins/filter/wheels.py"
)
wheels = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(wheels)


def make_wheel(directory, file, modules=("shop",), entry_points=""):
    path = directory / file
    name = file.split("-")[0]
    with zipfile.ZipFile(path, "w") as archive:
        for module in modules:
            archive.writestr(f"{module}/__init__.py", "")
        archive.writestr(f"{name}-1.0.dist-info/METADATA", "Name: x\n")
        if entry_points:
            archive.writestr(f"{name}-1.0.dist-info/entry_points.txt", entry_points)
        archive.writestr(f"{name}-1.0.data/scripts/tool", "")
    return str(path)


def test_names_modules_entry_points_and_tags_are_read(tmp_path):
    path = make_wheel(
        tmp_path,
        "shop_handlers-1.0-py3-none-any.whl",
        modules=("shop", "shop_util"),
        entry_points="[console_scripts]\nx = shop:main\n\n[event_worker.handlers]\nInvoices = shop.invoices:handle\n",
    )
    (found,) = wheels.event_worker_wheels([path])
    assert found["name"] == "shop_handlers"
    assert found["version"] == "1.0"
    assert found["platform"] == "any"
    assert found["modules"] == ["shop", "shop_util"]
    assert found["handlers"] == ["Invoices"]
    assert len(found["sha256"]) == 64


def test_wheels_of_the_worker_wheelhouse_are_left_out(tmp_path):
    house = tmp_path / "house"
    house.mkdir()
    mine = make_wheel(tmp_path, "shop-1.0-py3-none-any.whl")
    worker = make_wheel(tmp_path, "pika-1.4.4-py3-none-any.whl", modules=("pika",))
    make_wheel(house, "pika-1.4.4-py3-none-any.whl", modules=("pika",))
    assert [w["file"] for w in wheels.event_worker_wheels([worker, mine], str(house))] == ["shop-1.0-py3-none-any.whl"]


def test_a_file_that_is_not_a_wheel_is_refused(tmp_path):
    (tmp_path / "shop.zip").write_bytes(b"")
    with pytest.raises(AnsibleFilterError, match=r"shop\.zip is not a wheel file name"):
        wheels.event_worker_wheels([str(tmp_path / "shop.zip")])


@pytest.mark.parametrize(
    ("file", "problem"),
    [
        ("shop-1.0-py3-none-any.whl", None),
        ("shop-1.0-cp39-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", None),
        ("shop-1.0-cp311-cp311-manylinux_2_17_aarch64.whl", None),
        ("shop-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "compiled for manylinux_2_17_x86_64, the host is aarch64"),
        ("shop-1.0-cp312-cp312-manylinux_2_17_aarch64.whl", "compiled for cp312, the host runs Python 3.11"),
    ],
)
def test_compiled_wheels_must_match_the_host(tmp_path, file, problem):
    found = wheels.event_worker_wheels([make_wheel(tmp_path, file)])
    wrong = wheels.event_worker_wrong_platform(found, "aarch64", "3.11")
    assert wrong == ([] if problem is None else [f"{file} is {problem}"])


def test_the_package_providing_a_handler_is_found_by_module_or_registered_name(tmp_path):
    found = wheels.event_worker_wheels(
        [
            make_wheel(
                tmp_path, "shop-1.0-py3-none-any.whl", entry_points="[event_worker.handlers]\ninvoices = shop.x:h\n"
            ),
            make_wheel(tmp_path, "other-2.0-py3-none-any.whl", modules=("other",)),
        ]
    )
    provider = wheels.event_worker_handler_package
    assert provider("invoices", found)["name"] == "shop"
    assert provider("other.deep.module:handle", found)["name"] == "other"
    assert provider("orders", found) is None
    assert provider("unknown_module:handle", found) is None
