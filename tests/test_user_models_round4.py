"""to_funcad on a fourth round of models written as PyTorch users write them: a UNet (ConvTranspose2d or bilinear
up path, ``F.pad`` to the skip's size, ``torch.cat`` skips), a ViT (Conv2d patch embedding, an expanded cls token,
``nn.TransformerEncoder`` with ``norm_first`` and GELU, ``x[:, 0]``), a GRU encoder-decoder with Bahdanau attention
over a fixed number of decoder steps, a DenseNet block, an SE-ResNeXt block, MobileNetV2's inverted residual, a
ConvNeXt block (channels-first LayerNorm by hand, layer scale, DropPath), MLP-Mixer, a TCN (weight-normalised dilated
causal convolutions, chomp), an ESPCN super-resolution net (PixelShuffle, bicubic skip), a dense-adjacency GCN, a
character CNN, a model of tensor functions (where, masked_fill, gather, scatter_add, cumsum, logsumexp, einsum,
normalize, cosine_similarity, pad modes) and one keeping its parts in ModuleDict / ParameterList / buffers.
Outputs and every gradient equal torch's in float64 in both training modes, and agree in float32 to float32's
precision; two run end to end through ``harness.compare`` and ``funcad-compare run --from torch``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm
from twin_check import assert_same_model, funcad_run, torch_run

import harness
from harness import cli
from torch_ref import TranslationError
from torch_ref.to_funcad import funcad_twin

RNG = np.random.default_rng(2024)


# --- UNet (milesial/Pytorch-UNet's parts) -------------------------------------------------------------------------

class DoubleConv(tnn.Module):
    """(convolution => [BN] => ReLU) * 2"""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = tnn.Sequential(
            tnn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            tnn.BatchNorm2d(mid_channels),
            tnn.ReLU(inplace=True),
            tnn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            tnn.BatchNorm2d(out_channels),
            tnn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.double_conv(x)


class Down(tnn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = tnn.Sequential(tnn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(tnn.Module):
    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()
        self.bilinear = bilinear
        if bilinear:
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = tnn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        if self.bilinear:
            x1 = F.interpolate(x1, scale_factor=2, mode="bilinear", align_corners=True)
        else:
            x1 = self.up(x1)
        # input is CHW
        diffY = x2.size()[2] - x1.size()[2]
        diffX = x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class UNet(tnn.Module):
    def __init__(self, n_channels=3, n_classes=2, bilinear=False):
        super().__init__()
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, 4)
        self.down1 = Down(4, 8)
        self.down2 = Down(8, 16 // factor)
        self.up1 = Up(16, 8 // factor, bilinear)
        self.up2 = Up(8, 4, bilinear)
        self.outc = tnn.Conv2d(4, n_classes, kernel_size=1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x = self.up1(x3, x2)
        x = self.up2(x, x1)
        return self.outc(x)


def bilinear_unet():
    return UNet(bilinear=True)


class CroppingUp(Up):
    """The original UNet's way: the skip cropped to the upsampled size (F.pad with negative widths)."""

    def forward(self, x1, x2):
        x1 = self.up(x1)
        diffY = x2.size(2) - x1.size(2)
        diffX = x2.size(3) - x1.size(3)
        x2 = F.pad(x2, [-(diffX // 2), -(diffX - diffX // 2), -(diffY // 2), -(diffY - diffY // 2)])
        return self.conv(torch.cat([x2, x1], dim=1))


def cropping_unet():
    net = UNet()
    net.up1 = CroppingUp(16, 8, bilinear=False)
    return net


# --- ViT ----------------------------------------------------------------------------------------------------------

class PatchEmbed(tnn.Module):
    def __init__(self, img_size=8, patch_size=4, in_chans=3, embed_dim=16):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = tnn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)  # B, E, H/P, W/P
        return x.flatten(2).transpose(1, 2)  # B, N, E


class ViT(tnn.Module):
    def __init__(self, img_size=8, patch_size=4, in_chans=3, num_classes=5, embed_dim=16, depth=2, num_heads=4, dropout=0.0):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = tnn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = tnn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.pos_drop = tnn.Dropout(p=dropout)
        layer = tnn.TransformerEncoderLayer(d_model=embed_dim, nhead=num_heads, dim_feedforward=embed_dim * 2, dropout=dropout,
                                            activation="gelu", batch_first=True, norm_first=True)
        self.encoder = tnn.TransformerEncoder(layer, num_layers=depth, enable_nested_tensor=False)
        self.norm = tnn.LayerNorm(embed_dim)
        self.head = tnn.Linear(embed_dim, num_classes)
        tnn.init.trunc_normal_(self.pos_embed, std=0.02)
        tnn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x):
        B = x.shape[0]
        x = self.patch_embed(x)
        cls_tokens = self.cls_token.expand(B, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)
        x = self.pos_drop(x + self.pos_embed)
        x = self.encoder(x)
        x = self.norm(x)
        return self.head(x[:, 0])


# --- seq2seq with Bahdanau attention -------------------------------------------------------------------------------

class Encoder(tnn.Module):
    def __init__(self, vocab, emb, hid):
        super().__init__()
        self.embedding = tnn.Embedding(vocab, emb)
        self.rnn = tnn.GRU(emb, hid, batch_first=True, bidirectional=True)
        self.fc = tnn.Linear(hid * 2, hid)

    def forward(self, src):
        embedded = self.embedding(src)
        outputs, hidden = self.rnn(embedded)
        hidden = torch.tanh(self.fc(torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)))
        return outputs, hidden


class BahdanauAttention(tnn.Module):
    def __init__(self, hid):
        super().__init__()
        self.attn = tnn.Linear(hid * 3, hid)
        self.v = tnn.Linear(hid, 1, bias=False)

    def forward(self, hidden, encoder_outputs):
        src_len = encoder_outputs.shape[1]
        hidden = hidden.unsqueeze(1).repeat(1, src_len, 1)
        energy = torch.tanh(self.attn(torch.cat((hidden, encoder_outputs), dim=2)))
        attention = self.v(energy).squeeze(2)
        return F.softmax(attention, dim=1)


class Decoder(tnn.Module):
    def __init__(self, vocab, emb, hid):
        super().__init__()
        self.attention = BahdanauAttention(hid)
        self.embedding = tnn.Embedding(vocab, emb)
        self.rnn = tnn.GRU(hid * 2 + emb, hid, batch_first=True)
        self.fc_out = tnn.Linear(hid * 3 + emb, vocab)

    def forward(self, token, hidden, encoder_outputs):
        embedded = self.embedding(token.unsqueeze(1))  # B, 1, E
        a = self.attention(hidden, encoder_outputs).unsqueeze(1)  # B, 1, S
        weighted = torch.bmm(a, encoder_outputs)  # B, 1, 2H
        output, hidden = self.rnn(torch.cat((embedded, weighted), dim=2), hidden.unsqueeze(0))
        prediction = self.fc_out(torch.cat((output.squeeze(1), weighted.squeeze(1), embedded.squeeze(1)), dim=1))
        return prediction, hidden.squeeze(0)


class Seq2Seq(tnn.Module):
    def __init__(self, vocab=11, emb=6, hid=5, max_len=4):
        super().__init__()
        self.encoder = Encoder(vocab, emb, hid)
        self.decoder = Decoder(vocab, emb, hid)
        self.max_len = max_len

    def forward(self, src, trg):
        batch_size = src.shape[0]
        outputs = []
        encoder_outputs, hidden = self.encoder(src)
        token = trg[:, 0]
        for t in range(1, self.max_len):
            output, hidden = self.decoder(token, hidden, encoder_outputs)
            outputs.append(output)
            token = trg[:, t]  # teacher forcing
        return torch.stack(outputs, dim=1).reshape(batch_size, -1)


# --- DenseNet -----------------------------------------------------------------------------------------------------

class DenseLayer(tnn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=2):
        super().__init__()
        self.norm1 = tnn.BatchNorm2d(in_channels)
        self.relu1 = tnn.ReLU(inplace=True)
        self.conv1 = tnn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = tnn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)

    def forward(self, prev_features):
        concated = torch.cat(prev_features, 1)
        bottleneck = self.conv1(self.relu1(self.norm1(concated)))
        return self.conv2(self.relu2(self.norm2(bottleneck)))


class DenseBlock(tnn.ModuleDict):
    def __init__(self, num_layers, in_channels, growth_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(in_channels + i * growth_rate, growth_rate))

    def forward(self, init_features):
        features = [init_features]
        for _name, layer in self.items():
            new_features = layer(features)
            features.append(new_features)
        return torch.cat(features, 1)


class Transition(tnn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.norm = tnn.BatchNorm2d(in_channels)
        self.relu = tnn.ReLU(inplace=True)
        self.conv = tnn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=False)
        self.pool = tnn.AvgPool2d(kernel_size=2, stride=2)


class TinyDenseNet(tnn.Module):
    def __init__(self, growth_rate=3, num_classes=4):
        super().__init__()
        self.features = tnn.Sequential()
        self.features.add_module("conv0", tnn.Conv2d(3, 6, kernel_size=3, padding=1, bias=False))
        self.features.add_module("denseblock1", DenseBlock(3, 6, growth_rate))
        self.features.add_module("transition1", Transition(6 + 3 * growth_rate, 8))
        self.features.add_module("norm5", tnn.BatchNorm2d(8))
        self.classifier = tnn.Linear(8, num_classes)

    def forward(self, x):
        features = self.features(x)
        out = F.relu(features, inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = torch.flatten(out, 1)
        return self.classifier(out)


# --- SE-ResNeXt ----------------------------------------------------------------------------------------------------

class SELayer(tnn.Module):
    def __init__(self, channel, reduction=4):
        super().__init__()
        self.avg_pool = tnn.AdaptiveAvgPool2d(1)
        self.fc = tnn.Sequential(
            tnn.Linear(channel, channel // reduction, bias=False),
            tnn.ReLU(inplace=True),
            tnn.Linear(channel // reduction, channel, bias=False),
            tnn.Sigmoid(),
        )

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class SEResNeXtBottleneck(tnn.Module):
    expansion = 2

    def __init__(self, inplanes, planes, cardinality=4, base_width=4, stride=1):
        super().__init__()
        width = math.floor(planes * (base_width / 8)) * cardinality
        self.conv1 = tnn.Conv2d(inplanes, width, kernel_size=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(width)
        self.conv2 = tnn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, groups=cardinality, bias=False)
        self.bn2 = tnn.BatchNorm2d(width)
        self.conv3 = tnn.Conv2d(width, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * self.expansion)
        self.relu = tnn.ReLU(inplace=True)
        self.se_module = SELayer(planes * self.expansion)
        self.downsample = None
        if stride != 1 or inplanes != planes * self.expansion:
            self.downsample = tnn.Sequential(tnn.Conv2d(inplanes, planes * self.expansion, 1, stride=stride, bias=False),
                                             tnn.BatchNorm2d(planes * self.expansion))

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out = self.se_module(out) + residual
        out = self.relu(out)
        return out


class SEResNeXt(tnn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.stem = tnn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.block = SEResNeXtBottleneck(8, 8, stride=2)
        self.fc = tnn.Linear(16, num_classes)

    def forward(self, x):
        x = self.block(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# --- MobileNetV2 ---------------------------------------------------------------------------------------------------

class ConvBNReLU(tnn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            tnn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            tnn.BatchNorm2d(out_planes),
            tnn.ReLU6(inplace=True),
        )


class InvertedResidual(tnn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend([
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),  # dw
            tnn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),  # pw-linear
            tnn.BatchNorm2d(oup),
        ])
        self.conv = tnn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2Tiny(tnn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.features = tnn.Sequential(ConvBNReLU(3, 8, stride=2), InvertedResidual(8, 8, 1, 1), InvertedResidual(8, 8, 1, 6),
                                       InvertedResidual(8, 12, 2, 6))
        self.classifier = tnn.Sequential(tnn.Dropout(0.0), tnn.Linear(12, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = tnn.functional.adaptive_avg_pool2d(x, (1, 1)).reshape(x.shape[0], -1)
        return self.classifier(x)


# --- ConvNeXt (facebookresearch/ConvNeXt) --------------------------------------------------------------------------

def drop_path(x, drop_prob: float = 0.0, training: bool = False):
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = keep_prob + torch.rand(shape, dtype=x.dtype, device=x.device)
    random_tensor.floor_()
    return x.div(keep_prob) * random_tensor


class DropPath(tnn.Module):
    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        return drop_path(x, self.drop_prob, self.training)


class LayerNorm2d(tnn.Module):
    """LayerNorm supporting channels_last (default) or channels_first inputs."""

    def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
        super().__init__()
        self.weight = tnn.Parameter(torch.ones(normalized_shape))
        self.bias = tnn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        self.normalized_shape = (normalized_shape,)

    def forward(self, x):
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXtBlock(tnn.Module):
    def __init__(self, dim, drop_path=0.0, layer_scale_init_value=1e-6):
        super().__init__()
        self.dwconv = tnn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = tnn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = tnn.Linear(dim, 4 * dim)
        self.act = tnn.GELU()
        self.pwconv2 = tnn.Linear(4 * dim, dim)
        self.gamma = tnn.Parameter(layer_scale_init_value * torch.ones(dim), requires_grad=True) if layer_scale_init_value > 0 else None
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else tnn.Identity()

    def forward(self, x):
        input = x
        x = self.dwconv(x)
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        x = self.norm(x)
        x = self.pwconv1(x)
        x = self.act(x)
        x = self.pwconv2(x)
        if self.gamma is not None:
            x = self.gamma * x
        x = x.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        return input + self.drop_path(x)


class TinyConvNeXt(tnn.Module):
    def __init__(self, num_classes=3, drop_path_rate=0.0, dims=(4, 8)):
        super().__init__()
        self.stem = tnn.Sequential(tnn.Conv2d(3, dims[0], kernel_size=2, stride=2), LayerNorm2d(dims[0], eps=1e-6, data_format="channels_first"))
        self.stage1 = ConvNeXtBlock(dims[0], drop_path=drop_path_rate, layer_scale_init_value=0.5)
        self.downsample = tnn.Sequential(LayerNorm2d(dims[0], eps=1e-6, data_format="channels_first"), tnn.Conv2d(dims[0], dims[1], 2, 2))
        self.stage2 = ConvNeXtBlock(dims[1], drop_path=drop_path_rate, layer_scale_init_value=0.5)
        self.norm = tnn.LayerNorm(dims[-1], eps=1e-6)
        self.head = tnn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = self.stage2(self.downsample(self.stage1(self.stem(x))))
        return self.head(self.norm(x.mean([-2, -1])))  # global average pooling, (N, C, H, W) -> (N, C)


def convnext_with_drop_path():
    return TinyConvNeXt(drop_path_rate=0.1)


# --- MLP-Mixer -----------------------------------------------------------------------------------------------------

class MlpBlock(tnn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = tnn.Linear(dim, hidden)
        self.fc2 = tnn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class MixerBlock(tnn.Module):
    def __init__(self, num_tokens, dim, token_hidden, channel_hidden):
        super().__init__()
        self.norm1 = tnn.LayerNorm(dim)
        self.token_mix = MlpBlock(num_tokens, token_hidden)
        self.norm2 = tnn.LayerNorm(dim)
        self.channel_mix = MlpBlock(dim, channel_hidden)

    def forward(self, x):
        y = self.norm1(x).transpose(1, 2)
        x = x + self.token_mix(y).transpose(1, 2)
        return x + self.channel_mix(self.norm2(x))


class MLPMixer(tnn.Module):
    def __init__(self, image_size=8, patch_size=2, dim=8, depth=2, num_classes=4):
        super().__init__()
        num_tokens = (image_size // patch_size) ** 2
        self.stem = tnn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.blocks = tnn.Sequential(*[MixerBlock(num_tokens, dim, 6, 12) for _ in range(depth)])
        self.norm = tnn.LayerNorm(dim)
        self.head = tnn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = x.flatten(2).transpose(1, 2)  # b c h w -> b (h w) c
        x = self.blocks(x)
        x = self.norm(x)
        return self.head(x.mean(dim=1))


# --- TCN (locuslab/TCN) --------------------------------------------------------------------------------------------

class Chomp1d(tnn.Module):
    def __init__(self, chomp_size):
        super().__init__()
        self.chomp_size = chomp_size

    def forward(self, x):
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(tnn.Module):
    def __init__(self, n_inputs, n_outputs, kernel_size, stride, dilation, padding, dropout=0.0):
        super().__init__()
        self.conv1 = weight_norm(tnn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride, padding=padding, dilation=dilation))
        self.chomp1 = Chomp1d(padding)
        self.relu1 = tnn.ReLU()
        self.dropout1 = tnn.Dropout(dropout)
        self.conv2 = weight_norm(tnn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride, padding=padding, dilation=dilation))
        self.chomp2 = Chomp1d(padding)
        self.relu2 = tnn.ReLU()
        self.dropout2 = tnn.Dropout(dropout)
        self.net = tnn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1, self.conv2, self.chomp2, self.relu2, self.dropout2)
        self.downsample = tnn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = tnn.ReLU()

    def forward(self, x):
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class CausalConv1d(tnn.Conv1d):
    """Left padding by F.pad: the other way TCNs are written."""

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x):
        return super().forward(F.pad(x, (self.left, 0)))


class TCN(tnn.Module):
    def __init__(self, input_size=3, output_size=4, num_channels=(5, 5), kernel_size=3):
        super().__init__()
        layers = []
        for i in range(len(num_channels)):
            dilation_size = 2 ** i
            in_channels = input_size if i == 0 else num_channels[i - 1]
            layers += [TemporalBlock(in_channels, num_channels[i], kernel_size, stride=1, dilation=dilation_size,
                                     padding=(kernel_size - 1) * dilation_size)]
        self.network = tnn.Sequential(*layers)
        self.causal = CausalConv1d(num_channels[-1], num_channels[-1], 2, dilation=4)
        self.linear = tnn.Linear(num_channels[-1], output_size)

    def forward(self, x):
        y1 = self.causal(self.network(x))
        return self.linear(y1[:, :, -1])


# --- ESPCN super-resolution ---------------------------------------------------------------------------------------

class ESPCN(tnn.Module):
    def __init__(self, upscale_factor=2, num_channels=1):
        super().__init__()
        self.upscale_factor = upscale_factor
        self.first_part = tnn.Sequential(tnn.Conv2d(num_channels, 8, kernel_size=5, padding=5 // 2), tnn.Tanh(),
                                         tnn.Conv2d(8, 4, kernel_size=3, padding=3 // 2), tnn.Tanh())
        self.last_part = tnn.Sequential(tnn.Conv2d(4, num_channels * (upscale_factor ** 2), kernel_size=3, padding=3 // 2),
                                        tnn.PixelShuffle(upscale_factor))

    def forward(self, x):
        base = F.interpolate(x, scale_factor=self.upscale_factor, mode="bicubic", align_corners=False)
        return base + self.last_part(self.first_part(x))


class ESPCNUpsampleLayer(ESPCN):
    """The bicubic skip as a layer: nn.Upsample(mode='bicubic'), which funcad's Upsample lacks, runs traced."""

    def __init__(self):
        super().__init__(upscale_factor=2)
        self.upsample = tnn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)

    def forward(self, x):
        return self.upsample(x) + self.last_part(self.first_part(x))


# --- GCN over a dense adjacency matrix ---------------------------------------------------------------------------

class DenseGCNLayer(tnn.Module):
    def __init__(self, in_features, out_features, add_self_loops=True):
        super().__init__()
        self.weight = tnn.Parameter(torch.empty(in_features, out_features))
        self.bias = tnn.Parameter(torch.zeros(out_features))
        self.add_self_loops = add_self_loops
        tnn.init.xavier_uniform_(self.weight)

    def forward(self, x, adj):
        B, N, _ = adj.size()
        if self.add_self_loops:
            adj = adj + torch.eye(N, dtype=adj.dtype, device=adj.device).unsqueeze(0)
        deg_inv_sqrt = adj.sum(-1).clamp(min=1).pow(-0.5)
        d = torch.diag_embed(deg_inv_sqrt)
        adj_norm = torch.bmm(torch.bmm(d, adj), d)
        return torch.bmm(adj_norm, x @ self.weight) + self.bias


class GCN(tnn.Module):
    def __init__(self, nfeat=4, nhid=6, nclass=3):
        super().__init__()
        self.gc1 = DenseGCNLayer(nfeat, nhid)
        self.gc2 = DenseGCNLayer(nhid, nclass)

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, 0.0, training=self.training)
        x = self.gc2(x, adj)
        return F.log_softmax(x.mean(dim=1), dim=-1)  # graph readout


# --- character CNN (Kim's CNN for sentence classification) ------------------------------------------------------

class CharCNN(tnn.Module):
    def __init__(self, vocab_size=12, embed_dim=5, num_filters=4, filter_sizes=(2, 3, 4), num_classes=3):
        super().__init__()
        self.embedding = tnn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.convs = tnn.ModuleList([tnn.Conv1d(embed_dim, num_filters, k) for k in filter_sizes])
        self.dropout = tnn.Dropout(0.0)
        self.fc = tnn.Linear(num_filters * len(filter_sizes), num_classes)

    def forward(self, text):
        embedded = self.embedding(text).permute(0, 2, 1)  # [batch, emb, len]
        conved = [F.relu(conv(embedded)) for conv in self.convs]
        pooled = [F.max_pool1d(conv, conv.shape[2]).squeeze(2) for conv in conved[:2]]
        pooled.append(torch.max(conved[2], dim=2)[0])  # the other way to pool over time
        cat = self.dropout(torch.cat(pooled, dim=1))
        return self.fc(cat)


# --- tensor functions --------------------------------------------------------------------------------------------

class TensorFunctions(tnn.Module):
    def __init__(self, dim=6, classes=3):
        super().__init__()
        self.proj = tnn.Linear(dim, dim)
        self.prototypes = tnn.Parameter(torch.randn(classes, dim))
        self.bilinear = tnn.Parameter(torch.randn(dim, dim) * 0.1)

    def forward(self, x, idx):
        # x: (B, L, D), idx: (B, L) int64 positions into a pool of 3 slots
        h = torch.tanh(self.proj(x))
        h = torch.where(h > 0.5, h * 2, h)
        h = h.masked_fill(idx.unsqueeze(-1) == 0, 0.0)
        picked = torch.gather(h, 1, idx.unsqueeze(-1).expand(-1, -1, h.size(-1)))
        pooled = torch.zeros(h.size(0), 3, h.size(-1), dtype=h.dtype).scatter_add(1, idx.unsqueeze(-1).expand_as(h), h)
        running = torch.cumsum(picked, dim=1)
        scores = torch.einsum("bld,de,ce->blc", running, self.bilinear, self.prototypes)
        lse = torch.logsumexp(scores, dim=-1, keepdim=True)
        cos = F.cosine_similarity(pooled.unsqueeze(2), self.prototypes[None, None], dim=-1)
        unit = F.normalize(pooled, p=2, dim=-1)
        sequence = running.transpose(1, 2)
        padded = (F.pad(sequence, (2, 1), mode="reflect") [..., :4].sum(-1) + F.pad(sequence, (1, 2), mode="replicate")[..., -3:].sum(-1)
                  + F.pad(sequence, (2, 2), mode="circular")[..., :3].sum(-1) + F.pad(sequence, (1, 0), value=0.5).mean(-1))
        return torch.cat([(scores - lse).flatten(1), cos.flatten(1), unit.flatten(1), padded], dim=1)


# --- containers and buffers ---------------------------------------------------------------------------------------

class MultiTaskNet(tnn.Module):
    def __init__(self, dim=5):
        super().__init__()
        self.heads = tnn.ModuleDict({"cls": tnn.Linear(dim, 3), "reg": tnn.Sequential(tnn.Linear(dim, 4), tnn.Softplus())})
        self.scales = tnn.ParameterList([tnn.Parameter(torch.ones(dim) * (i + 1)) for i in range(2)])
        self.shift = tnn.ParameterDict({"cls": tnn.Parameter(torch.zeros(3)), "reg": tnn.Parameter(torch.full((4,), 0.1))})
        self.register_buffer("mean", torch.linspace(-1, 1, dim))
        self.register_buffer("std", torch.linspace(0.5, 2, dim))
        self.register_buffer("steps", torch.tensor(3))  # an integer buffer

    def forward(self, x):
        x = (x - self.mean) / self.std
        for scale in self.scales:
            x = torch.tanh(x * scale)
        outs = [self.heads[name](x) + self.shift[name] for name in ("cls", "reg")]
        return torch.cat(outs, dim=-1) * self.steps


CASES = {
    "unet_transposed": (UNet, (RNG.standard_normal((2, 3, 10, 10)),)),
    "unet_bilinear": (bilinear_unet, (RNG.standard_normal((2, 3, 10, 10)),)),
    "unet_cropping_skips": (cropping_unet, (RNG.standard_normal((2, 3, 10, 10)),)),
    "vit": (ViT, (RNG.standard_normal((2, 3, 8, 8)),)),
    "seq2seq_bahdanau": (Seq2Seq, (RNG.integers(0, 11, (3, 5)), RNG.integers(0, 11, (3, 4)))),
    "densenet": (TinyDenseNet, (RNG.standard_normal((2, 3, 6, 6)),)),
    "se_resnext": (SEResNeXt, (RNG.standard_normal((2, 3, 8, 8)),)),
    "mobilenet_v2": (MobileNetV2Tiny, (RNG.standard_normal((2, 3, 12, 12)),)),
    "convnext": (TinyConvNeXt, (RNG.standard_normal((2, 3, 8, 8)),)),
    "mlp_mixer": (MLPMixer, (RNG.standard_normal((2, 3, 8, 8)),)),
    "tcn": (TCN, (RNG.standard_normal((2, 3, 12)),)),
    "espcn": (ESPCN, (RNG.standard_normal((2, 1, 6, 6)),)),
    "espcn_bicubic_upsample_layer": (ESPCNUpsampleLayer, (RNG.standard_normal((2, 1, 6, 6)),)),
    "dense_gcn": (GCN, (RNG.standard_normal((2, 5, 4)), (RNG.random((2, 5, 5)) > 0.5).astype(np.float64))),
    "char_cnn": (CharCNN, (np.concatenate([RNG.integers(1, 12, (3, 6)), np.zeros((3, 2), np.int64)], 1),)),
    "tensor_functions": (TensorFunctions, (RNG.standard_normal((2, 5, 6)), RNG.integers(0, 3, (2, 5)))),
    "module_dict_parameter_list": (MultiTaskNet, (RNG.standard_normal((4, 5)),)),
}


@pytest.mark.usefixtures("float64_default")
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_user_model_matches_torch_in_float64(name, train):
    factory, args = CASES[name]
    torch.manual_seed(0)
    module = factory().double()
    twin = funcad_twin(module)
    assert_same_model(twin.cell, module, twin.parameter_names, args, train)


def _float32(value):
    return value.astype(np.float32) if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_user_model_agrees_in_float32(name, train):
    """float32 on both sides: the same values to float32's precision (the kernels sum in other orders)."""
    factory, args = CASES[name]
    torch.manual_seed(0)
    module = factory()
    twin = funcad_twin(module)
    twin.cell.set_train(train)
    module.train(train)
    args = tuple(_float32(a) for a in args)
    rng = np.random.default_rng(7)
    with torch.no_grad():
        shapes = [tuple(o.shape) for o in _outputs(module(*[torch.from_numpy(a) for a in args]))]
    cotangents = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    f_outs, f_gx, f_grads = funcad_run(twin.cell, args, {}, cotangents)
    t_outs, t_gx, t_grads = torch_run(module, args, {}, cotangents)
    for f, t in zip(f_outs, t_outs, strict=True):
        assert f.dtype == np.float32
        np.testing.assert_allclose(f, t, rtol=2e-4, atol=2e-5)
    for f, t in zip(f_gx, t_gx, strict=True):
        np.testing.assert_allclose(f, t, rtol=2e-3, atol=1e-4 * max(1.0, float(np.abs(t).max())))
    for name_, grad in f_grads.items():
        t = t_grads[twin.parameter_names[name_]]
        assert grad.dtype == np.float32, name_
        np.testing.assert_allclose(grad, t, rtol=2e-3, atol=1e-4 * max(1.0, float(np.abs(t).max())), err_msg=name_)


def _outputs(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


# --- random draws in forward, aligned with funcad's -------------------------------------------------------------

class TimmDropPath(tnn.Module):
    """timm's drop_path: a Bernoulli draw by ``x.new_empty(shape).bernoulli_(keep_prob)``."""

    def __init__(self, drop_prob=0.0, scale_by_keep=True):
        super().__init__()
        self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep_prob = 1 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
        if keep_prob > 0.0 and self.scale_by_keep:
            random_tensor.div_(keep_prob)
        return x * random_tensor


class ResidualMLP(tnn.Module):
    def __init__(self, dim=6, drop_path=0.5):
        super().__init__()
        self.fc1, self.fc2 = tnn.Linear(dim, dim), tnn.Linear(dim, dim)
        self.drop_path = TimmDropPath(drop_path)

    def forward(self, x):
        return x + self.drop_path(self.fc2(F.gelu(self.fc1(x))))


class VAE(tnn.Module):
    """The reparameterisation trick, plus the other in-place draws: ``uniform_`` jitter and ``normal_`` noise."""

    def __init__(self, dim=6, latent=3):
        super().__init__()
        self.enc = tnn.Linear(dim, 2 * latent)
        self.dec = tnn.Linear(latent, dim)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = self.reparameterize(mu, logvar)
        jitter = torch.empty_like(z).uniform_(-0.1, 0.1) + torch.zeros_like(z).normal_(0.0, 0.01)
        noise = torch.randn(4, 1) * 0.1 + torch.rand(4, 1, dtype=x.dtype)  # sizes of the batch drawn as constants
        gate = torch.bernoulli(torch.sigmoid(mu))  # probabilities from the model
        return self.dec(z + jitter + noise) * gate.sum(-1, keepdim=True), torch.rand_like(x) * x


def _aligned_run(engine, cell_or_module, args, cotangents):
    """One forward and backward of ``engine``'s model with its draws from the key [3, 0]: outputs, input and parameter
    gradients."""
    from torch_ref.dropout import aligned_masks, set_mask_key

    set_mask_key(3, 0, engine)
    if engine == "funcad":
        with aligned_masks():  # (funcad draws from its own key; the context only patches torch)
            outs, gx, grads = _one_pass_funcad(cell_or_module, args, cotangents)
        return outs, gx, grads
    module = cell_or_module
    inputs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in args]
    for p in module.parameters():
        p.grad = None
    with aligned_masks():
        outs = _outputs(module(*inputs))
    sum((o * torch.from_numpy(c)).sum() for o, c in zip(outs, cotangents)).backward()
    return ([o.detach().numpy() for o in outs], [x.grad.numpy() for x in inputs if x.requires_grad],
            {n: p.grad.numpy() for n, p in module.named_parameters()})


def _one_pass_funcad(cell, args, cotangents):
    import funcad
    from funcad import ops

    params = cell.trainable_params()
    inputs = [funcad.Tensor(a) for a in args]

    def loss(*xs):
        outs = _outputs(cell(*xs))
        return (sum(ops.sum(o * funcad.Tensor(c)) for o, c in zip(outs, cotangents)), *outs)

    (_, *outs), (gx, grads) = funcad.value_and_grad(loss, 0, params, has_aux=True)(*inputs)
    return [np.asarray(o) for o in outs], [np.asarray(gx)], {p.name: np.asarray(g) for p, g in zip(params, grads)}


@pytest.mark.usefixtures("float64_default")
@pytest.mark.parametrize("factory, shape", [(convnext_with_drop_path, (4, 3, 8, 8)), (ResidualMLP, (8, 6)), (VAE, (4, 6))],
                         ids=["convnext_torch_rand", "timm_bernoulli_", "vae_randn_like"])
def test_random_draws_in_forward_are_aligned_with_funcad_s(factory, shape):
    """Inside ``aligned_masks()`` torch's draws are funcad's numbers: training-mode outputs and gradients agree in float64
    (the harness sets both keys before every step). The draws do something: a second key changes the output."""
    torch.manual_seed(0)
    module = factory().double().train()
    twin = funcad_twin(module)
    x = RNG.standard_normal(shape)
    rng = np.random.default_rng(7)
    with torch.no_grad():
        cotangents = [rng.standard_normal(tuple(o.shape)) for o in _outputs(module(torch.from_numpy(x)))]
    f_outs, f_gx, f_grads = _aligned_run("funcad", twin.cell, (x,), cotangents)
    t_outs, t_gx, t_grads = _aligned_run("torch", module, (x,), cotangents)
    for f, t in zip(f_outs + f_gx, t_outs + t_gx, strict=True):
        np.testing.assert_allclose(f, t, rtol=1e-10, atol=1e-12)
    for name, grad in f_grads.items():
        np.testing.assert_allclose(grad, t_grads[twin.parameter_names[name]], rtol=1e-10, atol=1e-12, err_msg=name)
    from torch_ref.dropout import aligned_masks, set_mask_key

    set_mask_key(4, 0, "torch")
    with aligned_masks(), torch.no_grad():
        other = _outputs(module(torch.from_numpy(x)))[0].numpy()
    assert not np.allclose(other, t_outs[0])
    assert torch.rand is not None and torch.rand.__module__ == "torch"  # the context restored torch's own


def test_a_model_converted_for_evaluation_runs_there_and_names_the_draw_in_training():
    """Converted in evaluation mode, a forward whose training branch cannot translate (torch.randint draws) runs; switched
    to training it is refused naming the mode, node and line."""
    module = TracedRandint().eval()
    twin = funcad_twin(module)
    x = RNG.standard_normal((2, 6)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(twin.cell(x)), module(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)
    twin.cell.set_train(True)
    with pytest.raises(TranslationError, match=r"in training mode \(the module was converted in evaluation mode, where it translates\): "
                                               r"TracedRandint at the root: node 'randint' .* at .*test_user_models_round4.py:\d+: "
                                               r"`noise = torch.randint\(0, 3, \(2, 6\)\)`: torch.randint draws random numbers"):
        twin.cell(x)
    with pytest.raises(TranslationError, match="TracedRandint at the root: node 'randint'"):
        funcad_twin(TracedRandint().train())  # the mode it is converted in must translate


class RandomShift(tnn.Module):
    def __init__(self):
        super().__init__()
        self.fc = tnn.Linear(6, 3)

    def forward(self, x):
        start = torch.randint(0, 2, (1,))
        return self.fc(x.roll(int(start), -1))


class ValueBranch(tnn.Module):
    def __init__(self):
        super().__init__()
        self.fc = tnn.Linear(6, 6)

    def forward(self, x):
        h = self.fc(x)
        if h.sum() > 0:
            h = -h
        return h


class ValueItem(tnn.Module):
    def __init__(self):
        super().__init__()
        self.fc = tnn.Linear(6, 6)

    def forward(self, x):
        h = self.fc(x)
        return h / h.abs().max().item()


@pytest.mark.parametrize("module, message", [
    (ValueBranch, r"ValueBranch at the root: torch.fx cannot trace forward .* at .*test_user_models_round4.py:\d+: `if h.sum\(\) > 0:`: "
                  r"the twin replays one traced graph"),
    (RandomShift, r"RandomShift at the root: torch.fx cannot trace forward .* at .*test_user_models_round4.py:\d+: "
                  r"`return self.fc\(x.roll\(int\(start\), -1\)\)`"),
    (ValueItem, r"ValueItem at the root: node 'item' .* at .*test_user_models_round4.py:\d+: `return h / h.abs\(\).max\(\).item\(\)`: "
                r"Tensor.item reads a tensor's values into Python"),
], ids=["branch_on_a_value", "python_int_of_a_draw", "item"])
def test_control_flow_on_values_names_the_module_and_the_source_line(module, message):
    with pytest.raises(TranslationError, match=message):
        funcad_twin(module()).cell(RNG.standard_normal((2, 6)).astype(np.float32))


class TracedRandint(tnn.Module):
    def __init__(self):
        super().__init__()
        self.fc = tnn.Linear(6, 3)

    def forward(self, x):
        if self.training:
            noise = torch.randint(0, 3, (2, 6))
            x = x + noise
        return self.fc(x)


@pytest.mark.usefixtures("float64_default")
def test_the_twin_s_mirror_draws_aligned_numbers_too():
    """to_funcad and back: the funcad draws (``ops.rand``'s keyed primitive) mirror to torch.rand, which the aligned
    context makes funcad's numbers; the dtype of a constant tensor (funcad's DType) reaches torch as a torch dtype."""
    from torch_ref import mirror
    from torch_ref.dropout import aligned_masks, set_mask_key

    torch.manual_seed(0)
    module = ResidualMLP().double().train()
    back = mirror(funcad_twin(module).cell)
    x = torch.from_numpy(RNG.standard_normal((8, 6)))
    outputs = []
    for model in (module, back):
        set_mask_key(9, 0, "torch")
        with aligned_masks(), torch.no_grad():
            outputs.append(model(x).numpy())
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-12, atol=1e-14)
    assert (outputs[0] == x.numpy()).all(axis=1).any() and not (outputs[0] == x.numpy()).all()  # some rows dropped, not all


def test_a_cell_casting_to_a_constant_tensor_s_dtype_mirrors():
    import funcad
    from funcad import nn, ops
    from torch_ref import mirror

    class Gate(nn.Cell):
        def construct(self, x):
            ones = ops.ones((3,), funcad.float32)
            return ops.cast(x > 0, ones.dtype) * ones * 2.0

    x = RNG.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(mirror(Gate())(torch.from_numpy(x)).numpy(), (x > 0) * 2.0)


def test_a_convnext_with_stochastic_depth_trains_alike_through_the_harness():
    """Its DropPath draws torch.rand while training: the harness's aligned draws make both engines drop the same samples
    at every step, in float32 and float64."""
    torch.manual_seed(0)
    x = RNG.standard_normal((4, 3, 8, 8)).astype(np.float32)
    data = [(x, RNG.integers(0, 3, 4)) for _ in range(2)]
    result = harness.compare(convnext_with_drop_path(), data=data, steps=3, timing=False)
    assert result.passed


def test_the_seq2seq_model_trains_alike_through_the_harness():
    torch.manual_seed(0)
    src, trg = CASES["seq2seq_bahdanau"][1]
    data = [((src, trg), RNG.random((3, 33)).astype(np.float32)) for _ in range(2)]
    assert harness.compare(Seq2Seq(), data=data, loss="mse", optimizer="adam", steps=2, timing=False).passed


def test_the_unet_runs_end_to_end_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "--model", "test_user_models_round4:bilinear_unet", "--from", "torch", "--input-shape", "2,3,10,10", "--loss", "mse",
                     "--steps", "2", "--no-timing", "--out", "reports/unet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "all verdicts pass" in out and (tmp_path / "reports/unet/report.md").exists()


class _Applies(tnn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(self, x)


@pytest.mark.parametrize("fn, error, message", [
    (lambda self, x: torch.unique(x, dim=0), NotImplementedError, r"node 'unique' .*: torch.unique: dim=0 has no funcad translation"),
    (lambda self, x: torch.quantile(x, 0.5, dim=1, interpolation="cubic"), TranslationError,
     r"node 'quantile' .*: torch.quantile: interpolation must be one of linear, lower, higher, midpoint, nearest, got 'cubic'"),
    (lambda self, x: torch.nanquantile(x, 1.5), TranslationError, r"torch.nanquantile: q must be a number or a 1-D tensor of values in \[0, 1\]"),
    (lambda self, x: F.pad(x, (2, 0, 1)), TranslationError, r"_Applies at the root: node 'pad' .*funcad.ops.pad"),
    (lambda self, x: x.scatter_reduce(1, torch.zeros(3, 2, dtype=torch.long), x[:, :2], "amax"), NotImplementedError,
     r"node 'scatter_reduce' .*: torch.scatter_reduce: reduce='amax' has no funcad translation"),
], ids=["unique_dim", "quantile_interpolation", "quantile_out_of_range", "pad_of_odd_length", "scatter_reduce_amax"])
def test_options_and_values_the_translations_refuse_name_the_node(fn, error, message):
    with pytest.raises(error, match=message):
        funcad_twin(_Applies(fn)).cell(RNG.standard_normal((3, 4)))


def test_a_draw_from_a_generator_of_its_own_is_refused():
    """The twin draws from funcad's key (aligned with torch's draws by the harness), not from a torch Generator."""
    from funcad import ops
    from torch_ref.dropout import FUNCTIONS, METHODS

    with pytest.raises(NotImplementedError, match=r"torch.rand: generator=... has no funcad translation"):
        FUNCTIONS[torch.rand](2, 3, generator=torch.Generator())
    with pytest.raises(NotImplementedError, match=r"torch.Tensor.normal_: generator=... has no funcad translation"):
        METHODS["normal_"](ops.zeros((2, 2)), 0.0, 1.0, torch.Generator())


def test_a_lazy_layer_is_converted_once_torch_has_made_its_parameters():
    module = tnn.Sequential(tnn.Conv2d(3, 4, 3), tnn.Flatten(), tnn.LazyLinear(2))
    with pytest.raises(TranslationError, match=r"LazyLinear at '2': a lazy layer whose parameters are not made yet .*run the model on one batch"):
        funcad_twin(module)
    x = RNG.standard_normal((2, 3, 5, 5)).astype(np.float32)
    expected = module(torch.from_numpy(x)).detach().numpy()  # torch makes the Linear's weight here
    np.testing.assert_allclose(np.asarray(funcad_twin(module).cell(x)), expected, rtol=1e-5, atol=1e-6)
