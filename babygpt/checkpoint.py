"""The stage registry and the checkpoint format: the one place that lists the twelve stages and reads checkpoints.

The registry. Twelve stages, each a file at the top level of the repository, in reading order:

    STAGE_MODULES   {"v1": "babygpt_v1", ..., "v12": "babygpt_v12_wandb"}: id -> module name
    STAGE_IDS       ("v1", ..., "v12")
    STAGE_FILES     ("babygpt_v1.py", ..., "babygpt_v12_wandb.py")
    load_stage("v3")            the module, imported (importing a stage reads nothing and trains nothing)
    stage_id("babygpt_v6_block.py") -> "v6"

The checkpoint. babygpt_v12_wandb.py writes out_dir/checkpoint.pt: a dict tagged CHECKPOINT_FORMAT (defined in
v12, where it is written) with "model_config", "vocab", "model_state", and "stage", the file whose BabyGPT
it holds (a sweep's trial of any stage, babygpt_train.py for the trainer's runs; none in older checkpoints:
v12's). load_checkpoint() rebuilds that stage's model from it, and refuses a missing, damaged or foreign
file with a ValueError of one line.

Importing this file reads nothing and trains nothing.
"""

import importlib
import os
import pickle
import warnings
import zipfile

import torch

from babygpt_v12_wandb import CHECKPOINT_FORMAT, CharTokenizer

STAGE_MODULES = {  # id -> module name, in reading order
    "v1": "babygpt_v1",
    "v2": "babygpt_v2_position",
    "v3": "babygpt_v3_self_attention",
    "v4": "babygpt_v4_multihead_attention",
    "v5": "babygpt_v5_feedforward",
    "v6": "babygpt_v6_block",
    "v7": "babygpt_v7_residual_connection",
    "v8": "babygpt_v8_projection",
    "v9": "babygpt_v9_layer_norm",
    "v10": "babygpt_v10_dropout",
    "v11": "babygpt_v11_hyper_params",
    "v12": "babygpt_v12_wandb",
}
STAGE_IDS = tuple(STAGE_MODULES)
STAGE_FILES = tuple(f"{module}.py" for module in STAGE_MODULES.values())
TRAINER_FILE = "babygpt_train.py"  # trains v12's model; its checkpoints name it
CHECKPOINT_STAGES = (*STAGE_FILES, TRAINER_FILE)  # what a checkpoint's "stage" may name
CACHED_FROM = CHECKPOINT_STAGES.index("babygpt_v9_layer_norm.py")  # pre-norm Blocks with a projection: the KV cache
ATTENTION_FROM = CHECKPOINT_STAGES.index("babygpt_v10_dropout.py")  # heads whose weights pass through Head.dropout

TRAIN_HINT = (  # what a learner without a checkpoint does first (the sampler and the playground say it)
    "train one first: python babygpt_v12_wandb.py (on a CPU, with the options of the CPU command in docs/index.md),"
    " which writes out/v12/checkpoint.pt"
)


def load_stage(stage):
    """The stage module for an id ("v3"), imported."""
    return importlib.import_module(STAGE_MODULES[stage])


def stage_id(file):
    """v1 .. v12 for a stage file (babygpt_v6_block.py -> "v6"); any other file keeps its name (babygpt_train.py)."""
    return STAGE_IDS[STAGE_FILES.index(file)] if file in STAGE_FILES else file


def stage_of(checkpoint):
    """The stage file that wrote a checkpoint (a dict), and the module whose BabyGPT it holds.

    Raises ValueError (one line) when the checkpoint names a file that is not one of CHECKPOINT_STAGES."""
    stage = checkpoint.get("stage", "babygpt_v12_wandb.py")  # older checkpoints name none: all of them v12's
    if stage not in CHECKPOINT_STAGES:
        raise ValueError(f"it names stage {stage!r}, none of {STAGE_FILES[0]} ... {STAGE_FILES[-1]}")
    module = STAGE_MODULES["v12"] if stage == TRAINER_FILE else stage.removesuffix(".py")
    return stage, importlib.import_module(module)


def checkpoint_file(path):
    """The checkpoint file path names: path itself, or FOLDER/checkpoint.pt for a run folder (out/v12).

    Raises ValueError with a one-line message when there is nothing to load."""
    if os.path.isdir(path):
        inside = os.path.join(path, "checkpoint.pt")
        if not os.path.isfile(inside):
            raise ValueError(f"the folder {path} holds no checkpoint.pt; {TRAIN_HINT}")
        return inside
    if not os.path.exists(path):
        raise ValueError(f"checkpoint {path} not found; {TRAIN_HINT}")
    return path


def read_checkpoint(path):
    """The dict torch.load reads from the file path (tensors and plain data only, on the CPU).

    Raises ValueError with a one-line message for a missing, unreadable or damaged file, or one holding
    other Python objects. It does not check the format: load_checkpoint does."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle details; the user needs one clear line
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain data only
    except FileNotFoundError:  # removed since checkpoint_file looked
        raise ValueError(f"checkpoint {path} not found; {TRAIN_HINT}") from None
    except (IsADirectoryError, PermissionError) as e:
        raise ValueError(f"cannot read checkpoint {path}: {e.strerror}") from None
    except Exception as e:  # torch.load raises RuntimeError, OSError, EOFError, KeyError ... for a file it cannot parse
        if isinstance(e, pickle.UnpicklingError) and zipfile.is_zipfile(path):  # written by torch.save, refused
            raise ValueError(
                f"{path} is not a BabyGPT checkpoint: it holds Python objects other than tensors and plain data"
            ) from None
        raise ValueError(
            f"cannot load checkpoint {path}: the file is truncated or damaged, or not a PyTorch file"
        ) from None


def load_checkpoint(path, device):
    """The model (in eval mode, on device), tokenizer and checkpoint dict saved by babygpt_v12_wandb.py, or by a
    sweep's trial of any stage: the checkpoint names its stage, whose BabyGPT is built with the saved config.
    path is the file, or a run folder holding checkpoint.pt.

    Raises ValueError with a one-line message for a missing, damaged or foreign file."""
    path = checkpoint_file(path)
    checkpoint = read_checkpoint(path)
    foreign = f"{path} is not a BabyGPT checkpoint"
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{foreign} (no format tag {CHECKPOINT_FORMAT!r}; babygpt_v12_wandb.py writes them)")
    missing = [key for key in ("model_config", "vocab", "model_state") if key not in checkpoint]
    if missing:
        raise ValueError(f"{foreign}: it lacks {', '.join(missing)}")
    config, vocab, state = checkpoint["model_config"], checkpoint["vocab"], checkpoint["model_state"]
    try:
        _, stage = stage_of(checkpoint)
    except ValueError as e:
        raise ValueError(f"{foreign}: {e}") from None
    config_keys = ("vocab_size", *stage.MODEL_HYPERPARAMETERS)
    if not isinstance(config, dict) or any(key not in config for key in config_keys):
        raise ValueError(f"{foreign}: its model_config needs {', '.join(config_keys)}")
    if not isinstance(vocab, str) or len(vocab) != config["vocab_size"]:
        raise ValueError(f"{foreign}: its vocab is not a string of vocab_size = {config['vocab_size']} characters")
    if not isinstance(state, dict):
        raise ValueError(f"{foreign}: its model_state is not a state dict")
    try:
        model = stage.BabyGPT(**{key: config[key] for key in config_keys})
        model.load_state_dict(state)
    except (ValueError, TypeError, RuntimeError) as e:
        # load_state_dict lists every mismatch over several lines; its first problem is enough to see what is wrong
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        reason = lines[1] if len(lines) > 1 else lines[0] if lines else type(e).__name__
        raise ValueError(f"{foreign}: its weights do not fit its model_config ({reason[:200]})") from None
    model.to(device).eval()  # sampling never uses dropout
    return model, CharTokenizer(vocab), checkpoint


def default_prompts(checkpoint, tokenizer):
    """The prompts the model was trained to continue (v12 saves them), else a newline, else the first character."""
    hyperparameters = checkpoint.get("hyperparameters")
    saved = hyperparameters.get("prompt") if isinstance(hyperparameters, dict) else None
    if isinstance(saved, list):
        prompts = [p for p in saved if isinstance(p, str) and p and set(p) <= set(tokenizer.vocab)]
        if prompts:
            return prompts
    return ["\n" if "\n" in tokenizer.vocab else tokenizer.vocab[0]]


def uses_cache(checkpoint):
    """Whether babygpt.sampling.CachedBabyGPT runs this checkpoint's architecture (pre-norm Blocks with a
    projection: v9 on). Earlier stages are sampled by FullRecomputeContext, the same steps as their generate()."""
    return CHECKPOINT_STAGES.index(stage_of(checkpoint)[0]) >= CACHED_FROM
