"""Convert a Whisper model in CTranslate2 format (what faster-whisper loads) into an openai-whisper checkpoint.

The CTranslate2 tensors map one-to-one onto openai-whisper's parameters; the only reshaping is splitting the
fused attention projections (self-attention Q|K|V, cross-attention K|V) back apart. openai-whisper's ``key``
projections have no bias (CTranslate2 stores zeros there). The result is what ``whisper.load_model(path)``
accepts: ``{"dims": {...}, "model_state_dict": {...}}``.

    python -m workers.transcribe.convert MODEL_DIR OUTPUT.pt
"""

import re
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: CTranslate2's variable type ids (ctranslate2/specs/model_spec.py).
_DTYPES: dict[int, Any] = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BFLOAT16 = 5


def _read(handle: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = handle.read(size)
    if len(data) != size:
        raise ValueError("model.bin is truncated")
    return struct.unpack("<" + fmt, data)[0]


def _string(handle: BinaryIO) -> str:
    length = _read(handle, "H")
    return handle.read(length)[:-1].decode("utf-8")


def read_ctranslate2(model_bin: Path) -> tuple[str, dict[str, np.ndarray]]:
    """(spec name, variables) of a CTranslate2 ``model.bin``; aliases resolve to the variable they name."""
    variables: dict[str, np.ndarray] = {}
    with model_bin.open("rb") as handle:
        version = _read(handle, "I")
        if version < 5:
            raise ValueError(f"unsupported CTranslate2 model version {version}")
        spec = _string(handle)
        _read(handle, "I")  # spec revision
        for _ in range(_read(handle, "I")):
            name = _string(handle)
            shape = tuple(_read(handle, "I") for _ in range(_read(handle, "B")))
            type_id = _read(handle, "B")
            data = handle.read(_read(handle, "I"))
            if type_id == _BFLOAT16:
                raw = np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16
                array = raw.view(np.float32)
            else:
                array = np.frombuffer(data, dtype=_DTYPES[type_id])
            variables[name] = array.reshape(shape)
        for _ in range(_read(handle, "I")):
            alias, target = _string(handle), _string(handle)
            variables[alias] = variables[target]
    return spec, variables


def _layers(variables: dict[str, np.ndarray], side: str) -> int:
    pattern = re.compile(rf"^{side}/layer_(\d+)/")
    return 1 + max(int(m.group(1)) for name in variables if (m := pattern.match(name)))


def to_openai_whisper(variables: dict[str, np.ndarray]) -> dict[str, Any]:
    """``{"dims", "model_state_dict"}`` (float32 numpy arrays) from CTranslate2 Whisper variables."""
    v = {
        name: np.asarray(value, dtype=np.float32) if value.dtype.kind == "f" else value
        for name, value in variables.items()
    }
    n_state = v["encoder/conv1/weight"].shape[0]
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(n_state),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": _layers(v, "encoder"),
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": _layers(v, "decoder"),
    }
    state: dict[str, np.ndarray] = {}

    def norm(target: str, source: str) -> None:
        state[f"{target}.weight"] = v[f"{source}/gamma"]
        state[f"{target}.bias"] = v[f"{source}/beta"]

    def linear(target: str, source: str, bias: bool = True) -> None:
        state[f"{target}.weight"] = v[f"{source}/weight"]
        if bias:
            state[f"{target}.bias"] = v[f"{source}/bias"]

    def split(source: str, parts: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return np.split(v[f"{source}/weight"], parts), np.split(v[f"{source}/bias"], parts)

    def self_attention(target: str, source: str) -> None:
        (wq, wk, wv), (bq, _, bv) = split(f"{source}/linear_0", 3)
        state.update({f"{target}.query.weight": wq, f"{target}.query.bias": bq, f"{target}.key.weight": wk})
        state.update({f"{target}.value.weight": wv, f"{target}.value.bias": bv})
        linear(f"{target}.out", f"{source}/linear_1")

    def cross_attention(target: str, source: str) -> None:
        linear(f"{target}.query", f"{source}/linear_0")
        (wk, wv), (_, bv) = split(f"{source}/linear_1", 2)
        state.update({f"{target}.key.weight": wk, f"{target}.value.weight": wv, f"{target}.value.bias": bv})
        linear(f"{target}.out", f"{source}/linear_2")

    def mlp(target: str, source: str) -> None:
        linear(f"{target}.mlp.0", f"{source}/ffn/linear_0")
        linear(f"{target}.mlp.2", f"{source}/ffn/linear_1")
        norm(f"{target}.mlp_ln", f"{source}/ffn/layer_norm")

    for conv in ("conv1", "conv2"):
        linear(f"encoder.{conv}", f"encoder/{conv}")
    state["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    for i in range(dims["n_audio_layer"]):
        block, source = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        self_attention(f"{block}.attn", f"{source}/self_attention")
        norm(f"{block}.attn_ln", f"{source}/self_attention/layer_norm")
        mlp(block, source)
    norm("encoder.ln_post", "encoder/layer_norm")

    state["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    state["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    for i in range(dims["n_text_layer"]):
        block, source = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        self_attention(f"{block}.attn", f"{source}/self_attention")
        norm(f"{block}.attn_ln", f"{source}/self_attention/layer_norm")
        cross_attention(f"{block}.cross_attn", f"{source}/attention")
        norm(f"{block}.cross_attn_ln", f"{source}/attention/layer_norm")
        mlp(block, source)
    norm("decoder.ln", "decoder/layer_norm")
    return {"dims": dims, "model_state_dict": state}


def convert(model_dir: Path, output: Path) -> Path:
    """Write an openai-whisper checkpoint for the CTranslate2 model in ``model_dir`` to ``output``."""
    import torch

    spec, variables = read_ctranslate2(Path(model_dir) / "model.bin")
    if spec != "WhisperSpec":
        raise ValueError(f"{model_dir} holds a {spec}, not a Whisper model")
    checkpoint = to_openai_whisper(variables)
    checkpoint["model_state_dict"] = {
        name: torch.from_numpy(np.array(array, copy=True)) for name, array in checkpoint["model_state_dict"].items()
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(output.suffix + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(output)  # atomic: concurrent workers never load half a file
    return output


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m workers.transcribe.convert MODEL_DIR OUTPUT.pt")
    print(convert(Path(sys.argv[1]), Path(sys.argv[2])))
