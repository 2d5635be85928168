"""The layer Cells of funcad.nn, one module per kind; ``funcad.nn`` re-exports every one of them."""

from funcad.nn.cell import CellList, SequentialCell  # MindSpore's nn.layer holds its containers too (nn.layer.CellList)
from funcad.nn.layer.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    FastGelu,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    HShrink,
    HSigmoid,
    HSwish,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    SeLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    SoftShrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from funcad.nn.layer.attention import MultiheadAttention
from funcad.nn.layer.basic import (
    BiDense,
    ChannelShuffle,
    ClipByNorm,
    Dense,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    Flatten,
    Identity,
    Norm,
    OneHot,
    PixelShuffle,
    PixelUnshuffle,
    Unflatten,
)
from funcad.nn.layer.conv import Conv1d, Conv1dTranspose, Conv2d, Conv2dTranspose, Conv3d, Conv3dTranspose
from funcad.nn.layer.embedding import Embedding, EmbeddingLookup
from funcad.nn.layer.image import PSNR, SSIM, CentralCrop, ImageGradients, ResizeBilinear, Unfold
from funcad.nn.layer.math_cells import MatMul, Moments, Pad, Range, Roll, Tril, Triu
from funcad.nn.layer.normalization import (
    LRN,
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    RMSNorm,
    SyncBatchNorm,
)
from funcad.nn.layer.padding import (
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad2d,
)
from funcad.nn.layer.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from funcad.nn.layer.rnn_cells import GRUCell, LSTMCell, RNNCell
from funcad.nn.layer.rnns import GRU, LSTM, RNN
from funcad.nn.layer.spectral_norm import SpectralNorm, spectral_norm
from funcad.nn.layer.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from funcad.nn.layer.upsample import Upsample

__all__ = [
    "CellList", "SequentialCell", "Dense", "BiDense", "Dropout", "Dropout2d",
    "Dropout3d", "Flatten", "Identity", "Upsample", "Conv1d", "Conv2d", "Conv1dTranspose", "Conv2dTranspose",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "Embedding",
    "RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell", "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
    "ReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "ReLU6", "PReLU", "Hardswish", "Mish",
    "HSwish", "HSigmoid", "Hardsigmoid", "Hardtanh", "SeLU", "CELU", "LogSigmoid", "Softsign", "Tanhshrink", "Softmin", "GLU",
    "Softplus", "Threshold", "HShrink", "SoftShrink", "FastGelu", "Softmax2d",
    "Dropout1d", "Unflatten", "PixelShuffle", "PixelUnshuffle", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d",
    "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "ClipByNorm", "Norm", "RMSNorm", "LRN", "ChannelShuffle",
    "Conv3d", "Conv3dTranspose", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "BatchNorm3d",
    "SpectralNorm", "spectral_norm",
    "RReLU", "LPPool1d", "LPPool2d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "SyncBatchNorm", "EmbeddingLookup",
    "ImageGradients", "PSNR", "SSIM", "CentralCrop", "ResizeBilinear", "Unfold",
    "Roll", "Tril", "Triu", "Range", "Pad", "Moments", "MatMul", "OneHot",
]
