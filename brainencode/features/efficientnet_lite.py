"""EfficientNet-Lite0 (Tan & Le 2019; the 'Lite' variant: no squeeze-excitation, ReLU6, fixed
stem and head), laid out as timm's ``efficientnet_lite0`` so that its state dict maps one to one.

Built here in plain torch because timm needs torchvision, which has no CPU-only build on PyPI.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from brainencode.errors import BrainencodeError

# (kernel, stride, expansion, out_channels, repeats) per stage, as in the EfficientNet-B0 table
STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INITIALISATION = ("the architecture's own: timm's _init_weight_goog (TensorFlow EfficientNet): "
                  "conv N(0, 2 / fan_out), batch norm 1 and 0, classifier U(+-1 / sqrt(fan_out))")


def init_weight_goog(module: nn.Module) -> None:
    """The weight initialisation of the TensorFlow EfficientNet, as timm's
    ``_init_weight_goog`` (timm/models/_efficientnet_builder.py, with fix_group_fanout):
    convolutions N(0, sqrt(2 / fan_out)) with fan_out = k_h k_w out_channels / groups, batch
    norm weight 1 and bias 0, linear layers U(-r, r) with r = 1 / sqrt(out_features), biases 0.
    torch's defaults (Kaiming-uniform on fan_in) give other untrained features."""
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        nn.init.normal_(module.weight, 0, math.sqrt(2.0 / (fan_out // module.groups)))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        bound = 1.0 / math.sqrt(module.weight.size(0))
        nn.init.uniform_(module.weight, -bound, bound)
        nn.init.zeros_(module.bias)


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
            act: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out)]
    return layers + [nn.ReLU6(inplace=True)] if act else layers


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise k x k, 1x1 project; skip when shapes match."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = c_in * expansion
        expand = conv_bn(c_in, hidden, 1) if expansion != 1 else []
        self.body = nn.Sequential(*expand, *conv_bn(hidden, hidden, kernel, stride, hidden),
                                  *conv_bn(hidden, c_out, 1, act=False))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class EfficientNetLite0(nn.Module):
    """Stem, seven stages of MBConv blocks, 1x1 head to 1280 channels, ImageNet classifier."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 32, 3, 2))
        stages, c_in = [], 32
        for kernel, stride, expansion, c_out, repeats in STAGES:
            blocks = [MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1,
                             expansion) for i in range(repeats)]
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(*conv_bn(320, 1280, 1))
        self.classifier = nn.Linear(1280, num_classes)
        for module in self.modules():  # as timm: efficientnet_init_weights in __init__
            init_weight_goog(module)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the feature maps of stem, each stage and head, from one pass."""
        maps = [self.stem(x)]
        for stage in self.stages:
            maps.append(stage(maps[-1]))
        maps.append(self.head(maps[-1]))
        return self.classifier(maps[-1].mean((2, 3))), maps


LAYERS = ["stem"] + [f"stage{i}" for i in range(1, len(STAGES) + 1)] + ["head"]


def load_weights(model: EfficientNetLite0, path: str | Path) -> EfficientNetLite0:
    """Load a state dict whose tensors come in timm's order (names may differ, e.g. the
    original ``_conv_stem``/``_blocks`` naming): matched by position and shape, then loaded
    with strict key checking."""
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise BrainencodeError(f"{path}: cannot read EfficientNet-Lite0 weights ({exc})") from None
    target = model.state_dict()
    if len(source) != len(target):
        raise BrainencodeError(f"{path}: expected {len(target)} tensors of EfficientNet-Lite0, "
                               f"found {len(source)}")
    mapped = {}
    for (name, tensor), (source_name, value) in zip(target.items(), source.items(), strict=True):
        if tensor.shape != value.shape:
            raise BrainencodeError(f"{path}: {source_name}: expected shape {tuple(tensor.shape)} "
                                   f"for {name}, got {tuple(value.shape)}")
        mapped[name] = value
    model.load_state_dict(mapped, strict=True)
    return model
