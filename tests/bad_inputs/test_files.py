"""Bad image folders, WAVs and texts to train on: each one line naming the file or the row."""

import pytest

from tests.bad_inputs.helpers import bomb, image_folder, refused, texts, wav, wav_folder


def _images_config(tmp_path, root):
    config = tmp_path / "images.yaml"
    config.write_text(
        f"data: {{dataset: image-folder, path: '{root}', image_size: 8, channels: 1}}\n"
        "model: {name: cnn}\ntrain: {epochs: 1}\n"
    )
    return config


def _spoil_images(case, root):
    if case == "a folder that does not exist":
        return root / "nowhere"
    image_folder(root)
    if case == "an empty folder":
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
    elif case == "one class only":
        for path in (root / "light").iterdir():
            path.unlink()
        (root / "light").rmdir()
    elif case == "a text file named .png":
        (root / "dark" / "0.png").write_text("not an image")
    elif case == "a zero-byte image":
        (root / "dark" / "0.png").write_bytes(b"")
    elif case == "a truncated image":
        data = (root / "dark" / "0.png").read_bytes()
        (root / "dark" / "0.png").write_bytes(data[: len(data) // 2])
    elif case == "a decompression bomb":
        bomb(root / "light" / "huge.png")
    elif case == "a file, not a folder":
        return root / "dark" / "0.png"
    return root


IMAGE_CASES = {
    "a folder that does not exist": ["nowhere", "does not exist"],
    "an empty folder": ["images"],
    "one class only": ["class"],
    "a text file named .png": ["0.png", "not a readable image"],
    "a zero-byte image": ["0.png"],
    "a truncated image": ["0.png"],
    "a decompression bomb": ["huge.png", "30000×30000", "data.max_image_pixels"],
    "a file, not a folder": ["0.png"],
}


@pytest.mark.parametrize("case", IMAGE_CASES, ids=list(IMAGE_CASES))
def test_a_bad_image_folder_is_named(case, tmp_path, cli):
    root = _spoil_images(case, tmp_path / "images")
    result = cli("run", _images_config(tmp_path, root), "--runs-dir", tmp_path / "runs")
    refused(result, *IMAGE_CASES[case])


def _spoil_wavs(case, root):
    wav_folder(root)
    target = root / "low" / "0.wav"
    if case == "a text file named .wav":
        target.write_text("not audio")
    elif case == "a zero-byte WAV":
        target.write_bytes(b"")
    elif case == "a WAV cut mid-sample":
        target.write_bytes(target.read_bytes()[:-1])
    elif case == "a WAV with no samples":
        wav(target, seconds=0)
    elif case == "a stereo WAV":
        import wave

        with wave.open(str(target), "wb") as f:
            f.setnchannels(2)
            f.setsampwidth(2)
            f.setframerate(16000)
            f.writeframes(b"\0\0" * 1600)
    elif case == "a clip over the length limit":
        wav(target, seconds=3.0)
    return root


WAV_CASES = {
    "a text file named .wav": ["0.wav", "not a readable WAV"],
    "a zero-byte WAV": ["0.wav"],
    "a WAV cut mid-sample": ["0.wav", "cut off in the middle of a sample"],
    "a WAV with no samples": ["0.wav", "no audio"],
    "a stereo WAV": ["0.wav", "2 channels", "mono"],
    "a clip over the length limit": ["0.wav", "3 s", "data.max_clip_seconds"],
}


@pytest.mark.parametrize("case", WAV_CASES, ids=list(WAV_CASES))
def test_a_bad_wav_is_named(case, tmp_path, cli):
    root = _spoil_wavs(case, tmp_path / "clips")
    config = tmp_path / "audio.yaml"
    config.write_text(
        f"data: {{dataset: audio-folder, path: '{root}', max_clip_seconds: 2}}\n"
        "model: {name: cnn}\ntrain: {epochs: 1}\n"
    )
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), *WAV_CASES[case])


TEXT_CASES = {
    "no text column": ("text: body", ["body", "review"]),
    "an empty text": ("", ["`review`", "empty"]),
    "a text over the length limit": ("max_text_chars: 50", ["`review`", "row 3", "max_text_chars"]),
    "a language model on two texts": ("", ["2 text(s)"]),
}


@pytest.mark.parametrize("case", TEXT_CASES, ids=list(TEXT_CASES))
def test_a_bad_text_table_is_named(case, tmp_path, cli):
    extra, fragments = TEXT_CASES[case]
    data = texts(tmp_path / "reviews.csv")
    lines = data.read_text().splitlines()
    if case == "an empty text":
        lines[4] = ",good"
    elif case == "a text over the length limit":
        lines[3] = "lovely " * 20 + ",good"
    elif case == "a language model on two texts":
        lines = ["review", "the first text", "the second text"]
    data.write_text("\n".join(lines) + "\n")
    text = "text: review" if "text:" not in extra else extra
    extra = "" if "text:" in extra else extra
    task = "language-model" if "language" in case else "classification"
    config = tmp_path / "texts.yaml"
    config.write_text(
        f"task: {task}\ndata: {{dataset: csv, path: '{data}', {text}"
        + (", target: label" if task == "classification" else "")
        + (f", {extra}" if extra else "")
        + "}\nmodel: {name: lstm}\ntrain: {epochs: 1}\n"
    )
    refused(cli("run", config, "--runs-dir", tmp_path / "runs"), *fragments)
