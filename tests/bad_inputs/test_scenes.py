"""Bad annotations for detection and segmentation: each one line naming the file and the fix."""

import json

import pytest
from PIL import Image

from tests.bad_inputs.helpers import refused
from tests.scene_files import scenes, write_coco, write_masks, write_voc, write_yolo


def _coco(root, change):
    path = write_coco(root, scenes(6))
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return "coco-json", path, "detection"


def _spoil(case, root):
    if case == "a box outside its image":
        return _coco(root, lambda d: d["annotations"][0].update(bbox=[20, 20, 30, 5]))
    if case == "an unknown category id":
        return _coco(root, lambda d: d["annotations"][0].update(category_id=9))
    if case == "an empty annotation set":
        return _coco(root, lambda d: d.update(annotations=[]))
    if case == "a YOLO class past classes.txt":
        path = write_yolo(root, scenes(6))
        (path / "labels" / "0.txt").write_text("5 0.5 0.5 0.2 0.2\n")
        return "yolo-txt", path, "detection"
    if case == "an image without its annotation file":
        path = write_voc(root, scenes(6))
        (path / "Annotations" / "0.xml").unlink()
        return "voc-xml", path, "detection"
    if case == "a mask whose size differs from its image":
        path = write_masks(root, scenes(6))
        Image.new("L", (20, 20)).save(path / "masks" / "0.png")
        return "mask-folder", path, "segmentation"
    if case == "instance masks without outlines":
        return "coco-json", write_coco(root, scenes(6)), "instance-segmentation"
    raise AssertionError(case)


SCENE_CASES = {
    "a box outside its image": ["annotations.json", "outside its 32×32 image"],
    "an unknown category id": ["annotations.json", "category_id 9"],
    "an empty annotation set": ["annotations.json", "no annotations"],
    "a YOLO class past classes.txt": ["0.txt", "class 5", "classes.txt"],
    "an image without its annotation file": ["0.png", "0.xml"],
    "a mask whose size differs from its image": ["0.png", "20×20", "32×32"],
    "instance masks without outlines": ["annotations.json", "outline", "segmentation"],
}
MODELS = {"detection": "fcos", "segmentation": "unet", "instance-segmentation": "mask-rcnn"}


@pytest.mark.parametrize("case", SCENE_CASES, ids=list(SCENE_CASES))
def test_a_bad_annotation_is_named(case, tmp_path, cli):
    dataset, path, task = _spoil(case, tmp_path / "data")
    config = tmp_path / "run.yaml"
    config.write_text(
        f"task: {task}\ndata: {{dataset: {dataset}, path: '{path}', image_size: 32}}\n"
        f"model: {{name: {MODELS[task]}}}\ntrain: {{epochs: 1}}\n"
    )
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), *SCENE_CASES[case])


def test_annotations_without_an_image_size_are_told_to_set_one(tmp_path, cli):
    path = write_coco(tmp_path / "data", scenes(4))
    config = tmp_path / "run.yaml"
    config.write_text(f"data: {{dataset: coco-json, path: '{path}'}}\nmodel: {{name: fcos}}\n")
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), "data.image_size")
