"""Programs of MindSpore's model zoo (mindspore-ai/models), copied with ``mindspore`` replaced by ``funcad`` and
the datasets by small synthetic arrays; sizes shrunk through the programs' own constructor and config arguments. Each
trains a few steps and is checked against the same computation written independently in PyTorch float64 (from the
same initial weights and batches): losses, metrics and every parameter after the steps.
"""
# ruff: noqa: N801, N802, N803, N806, UP008, UP031 - the programs keep the zoo's names, super(Class, self) and %-formatting as written

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from funcad.nn.loss.loss import LossBase as _Loss
from funcad.nn.wrap.grad_reducer import DistributedGradReducer
from funcad.train.loss_scale_manager import FixedLossScaleManager

import funcad as ms
import funcad.common.dtype as mstype
import funcad.nn as nn
import funcad.ops as ops
from funcad import Parameter, ParameterTuple, Tensor, context, jit
from funcad import _checkparam as Validator
from funcad.common.initializer import TruncatedNormal, Uniform, initializer
from funcad.communication.management import get_group_size
from funcad.context import ParallelMode, get_auto_parallel_context
from funcad.nn import Dropout, WithLossCell
from funcad.nn.cell import Cell
from funcad.nn.layer.activation import get_activation
from funcad.nn.optim import Adam
from funcad.ops import composite as C
from funcad.ops import functional as F
from funcad.ops import functional as F2
from funcad.ops import operations as P
from funcad.ops import operations as UF
from funcad.train import LossMonitor, Model


def _torch_params(params: dict) -> dict:
    """float64 leaf tensors of funcad's initial parameter values, by name."""
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}


def _ms_adam(params: dict, lr: float, eps: float = 1e-8, beta1: float = 0.9, beta2: float = 0.999):
    """MindSpore's Adam (nn.Adam's documented update, eps added to the uncorrected sqrt(v)) on torch tensors; returns
    ``step(grads)``. torch.optim.Adam adds eps to the bias-corrected root, which differs for small gradients."""
    m = {k: torch.zeros_like(p) for k, p in params.items()}
    v = {k: torch.zeros_like(p) for k, p in params.items()}
    count = [0]

    def step(grads: dict) -> None:
        count[0] += 1
        t = count[0]
        with torch.no_grad():
            for k, p in params.items():
                m[k] = beta1 * m[k] + (1 - beta1) * grads[k]
                v[k] = beta2 * v[k] + (1 - beta2) * grads[k] ** 2
                p -= lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m[k] / (v[k].sqrt() + eps)
    return step


def _assert_params(params, reference: dict, atol: float) -> None:
    for p in params:
        np.testing.assert_allclose(p.asnumpy(), reference[p.name].detach().numpy(), rtol=0, atol=atol, err_msg=p.name)


# -- 1. official/gnn/gcn (src/gcn.py, src/metrics.py): dense normalised adjacency, masked softmax cross-entropy with
# L2Loss weight decay on the first layer, the zoo's own TrainOneStepCell (Fill/DType/Shape sens) with Adam, masked accuracy --
def glorot(shape):
    init_range = np.sqrt(6.0/(shape[0]+shape[1]))
    return Tensor(np.random.uniform(-init_range, init_range, shape).astype(np.float32))

class GraphConvolution(nn.Cell):
    def __init__(self, feature_in_dim, feature_out_dim, dropout_ratio=None, activation=None):
        super(GraphConvolution, self).__init__()
        self.in_dim = feature_in_dim
        self.out_dim = feature_out_dim
        self.weight_init = glorot([self.out_dim, self.in_dim])
        self.fc = nn.Dense(self.in_dim, self.out_dim, weight_init=self.weight_init, has_bias=False)
        self.dropout_ratio = dropout_ratio
        if self.dropout_ratio is not None:
            self.dropout = nn.Dropout(keep_prob=1-self.dropout_ratio)
        self.dropout_flag = self.dropout_ratio is not None
        self.activation = get_activation(activation)
        self.activation_flag = self.activation is not None
        self.matmul = P.MatMul()
    def construct(self, adj, input_feature):
        dropout = input_feature
        if self.dropout_flag:
            dropout = self.dropout(dropout)
        fc = self.fc(dropout)
        output_feature = self.matmul(adj, fc)
        if self.activation_flag:
            output_feature = self.activation(output_feature)
        return output_feature

class GCN(nn.Cell):
    def __init__(self, config, input_dim, output_dim):
        super(GCN, self).__init__()
        self.layer0 = GraphConvolution(input_dim, config.hidden1, activation="relu", dropout_ratio=config.dropout)
        self.layer1 = GraphConvolution(config.hidden1, output_dim, dropout_ratio=None)
    def construct(self, adj, feature):
        output0 = self.layer0(adj, feature)
        output1 = self.layer1(adj, output0)
        return output1

class Loss(nn.Cell):
    def __init__(self, label, mask, weight_decay, param):
        super(Loss, self).__init__(auto_prefix=False)
        self.label = Tensor(label)
        self.mask = Tensor(mask)
        self.loss = P.SoftmaxCrossEntropyWithLogits()
        self.one = Tensor(1.0, mstype.float32)
        self.zero = Tensor(0.0, mstype.float32)
        self.mean = P.ReduceMean()
        self.cast = P.Cast()
        self.l2_loss = P.L2Loss()
        self.reduce_sum = P.ReduceSum()
        self.weight_decay = weight_decay
        self.param = param
    def construct(self, preds):
        param = self.l2_loss(self.param)
        loss = self.weight_decay * param
        preds = self.cast(preds, mstype.float32)
        loss = loss + self.loss(preds, self.label)[0]
        mask = self.cast(self.mask, mstype.float32)
        mask_reduce = self.mean(mask)
        mask = mask / mask_reduce
        loss = loss * mask
        loss = self.mean(loss)
        return loss

class Accuracy(nn.Cell):
    def __init__(self, label, mask):
        super(Accuracy, self).__init__(auto_prefix=False)
        self.label = Tensor(label)
        self.mask = Tensor(mask)
        self.equal = P.Equal()
        self.argmax = P.Argmax()
        self.cast = P.Cast()
        self.mean = P.ReduceMean()
    def construct(self, preds):
        preds = self.cast(preds, mstype.float32)
        correct_prediction = self.equal(self.argmax(preds), self.argmax(self.label))
        accuracy_all = self.cast(correct_prediction, mstype.float32)
        mask = self.cast(self.mask, mstype.float32)
        mask_reduce = self.mean(mask)
        mask = mask / mask_reduce
        accuracy_all *= mask
        return self.mean(accuracy_all)

class LossWrapper(nn.Cell):
    def __init__(self, network, label, mask, weight_decay):
        super(LossWrapper, self).__init__(auto_prefix=False)
        self.network = network
        self.loss = Loss(label, mask, weight_decay, network.trainable_params()[0])
    def construct(self, adj, feature):
        preds = self.network(adj, feature)
        loss = self.loss(preds)
        return loss

class TrainOneStepCell(nn.Cell):
    def __init__(self, network, optimizer, sens=1.0):
        super(TrainOneStepCell, self).__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.network.add_flags(defer_inline=True)
        self.weights = ParameterTuple(network.trainable_params())
        self.optimizer = optimizer
        self.grad = C.GradOperation(get_by_list=True, sens_param=True)
        self.sens = sens
    def construct(self, adj, feature):
        weights = self.weights
        loss = self.network(adj, feature)
        sens = P.Fill()(P.DType()(loss), P.Shape()(loss), self.sens)
        grads = self.grad(self.network, weights)(adj, feature, sens)
        return F.depend(loss, self.optimizer(grads))

class TrainNetWrapper(nn.Cell):
    def __init__(self, network, label, mask, config):
        super(TrainNetWrapper, self).__init__(auto_prefix=False)
        self.network = network
        loss_net = LossWrapper(network, label, mask, config.weight_decay)
        optimizer = nn.Adam(loss_net.trainable_params(), learning_rate=config.learning_rate)
        self.loss_train_net = TrainOneStepCell(loss_net, optimizer)
        self.accuracy = Accuracy(label, mask)
    def construct(self, adj, feature):
        loss = self.loss_train_net(adj, feature)
        accuracy = self.accuracy(self.network(adj, feature))
        return loss, accuracy


# -- 2. official/recommend/DeepFM (src/deepfm.py): Gather embeddings, FM interaction with Square/ReduceSum, the deep
# tower of MatMul/BiasAdd, SigmoidCrossEntropyWithLogits with an L2 term, TrainStepWrap with Adam(loss_scale) --
np_type = np.float32
ms_type = mstype.float32

def init_method(method, shape, name, max_val=1.0):
    if method in ['uniform']:
        params = Parameter(initializer(Uniform(max_val), shape, ms_type), name=name)
    elif method == "one":
        params = Parameter(initializer("ones", shape, ms_type), name=name)
    elif method == 'zero':
        params = Parameter(initializer("zeros", shape, ms_type), name=name)
    elif method == "normal":
        params = Parameter(Tensor(np.random.normal(loc=0.0, scale=0.01, size=shape).astype(dtype=np_type)), name=name)
    return params

def init_var_dict(init_args, var_list):
    var_map = {}
    _, max_val = init_args
    for i, _ in enumerate(var_list):
        key, shape, method = var_list[i]
        if key not in var_map.keys():
            if method in ['random', 'uniform']:
                var_map[key] = Parameter(initializer(Uniform(max_val), shape, ms_type), name=key)
            elif method == "one":
                var_map[key] = Parameter(initializer("ones", shape, ms_type), name=key)
            elif method == "zero":
                var_map[key] = Parameter(initializer("zeros", shape, ms_type), name=key)
            elif method == 'normal':
                var_map[key] = Parameter(Tensor(np.random.normal(loc=0.0, scale=0.01, size=shape).
                                                astype(dtype=np_type)), name=key)
    return var_map

class DenseLayer(nn.Cell):
    def __init__(self, input_dim, output_dim, weight_bias_init, act_str, scale_coef=1.0, convert_dtype=True,
                 use_act=True):
        super(DenseLayer, self).__init__()
        weight_init, bias_init = weight_bias_init
        self.weight = init_method(weight_init, [input_dim, output_dim], name="weight")
        self.bias = init_method(bias_init, [output_dim], name="bias")
        self.act_func = self._init_activation(act_str)
        self.matmul = P.MatMul(transpose_b=False)
        self.bias_add = P.BiasAdd()
        self.cast = P.Cast()
        self.dropout = Dropout(keep_prob=1.0)
        self.mul = P.Mul()
        self.realDiv = P.RealDiv()
        self.scale_coef = scale_coef
        self.convert_dtype = convert_dtype
        self.use_act = use_act

    def _init_activation(self, act_str):
        act_str = act_str.lower()
        if act_str == "relu":
            act_func = P.ReLU()
        elif act_str == "sigmoid":
            act_func = P.Sigmoid()
        elif act_str == "tanh":
            act_func = P.Tanh()
        return act_func

    def construct(self, x):
        x = self.dropout(x)
        if self.convert_dtype:
            x = self.cast(x, mstype.float16)
            weight = self.cast(self.weight, mstype.float16)
            bias = self.cast(self.bias, mstype.float16)
            wx = self.matmul(x, weight)
            wx = self.bias_add(wx, bias)
            if self.use_act:
                wx = self.act_func(wx)
            wx = self.cast(wx, mstype.float32)
        else:
            wx = self.matmul(x, self.weight)
            wx = self.bias_add(wx, self.bias)
            if self.use_act:
                wx = self.act_func(wx)
        return wx

class DeepFMModel(nn.Cell):
    def __init__(self, config):
        super(DeepFMModel, self).__init__()
        self.batch_size = config.batch_size
        self.field_size = config.data_field_size
        self.vocab_size = config.data_vocab_size
        self.emb_dim = config.data_emb_dim
        self.deep_layer_dims_list, self.deep_layer_act = config.deep_layer_args
        self.init_args = config.init_args
        self.weight_bias_init = config.weight_bias_init
        self.keep_prob = config.keep_prob
        convert_dtype = config.convert_dtype
        init_acts = [('W_l2', [self.vocab_size, 1], 'normal'),
                     ('V_l2', [self.vocab_size, self.emb_dim], 'normal')]
        var_map = init_var_dict(self.init_args, init_acts)
        self.fm_w = var_map["W_l2"]
        self.embedding_table = var_map["V_l2"]
        self.deep_input_dims = self.field_size * self.emb_dim
        self.all_dim_list = [self.deep_input_dims] + self.deep_layer_dims_list + [1]
        self.dense_layer_1 = DenseLayer(self.all_dim_list[0], self.all_dim_list[1], self.weight_bias_init,
                                        self.deep_layer_act, self.keep_prob, convert_dtype=convert_dtype)
        self.dense_layer_2 = DenseLayer(self.all_dim_list[1], self.all_dim_list[2], self.weight_bias_init,
                                        self.deep_layer_act, self.keep_prob, convert_dtype=convert_dtype)
        self.dense_layer_3 = DenseLayer(self.all_dim_list[2], self.all_dim_list[3], self.weight_bias_init,
                                        self.deep_layer_act, self.keep_prob, convert_dtype=convert_dtype)
        self.dense_layer_4 = DenseLayer(self.all_dim_list[3], self.all_dim_list[4], self.weight_bias_init,
                                        self.deep_layer_act, self.keep_prob, convert_dtype=convert_dtype)
        self.dense_layer_5 = DenseLayer(self.all_dim_list[4], self.all_dim_list[5], self.weight_bias_init,
                                        self.deep_layer_act, self.keep_prob, convert_dtype=convert_dtype, use_act=False)
        self.Gatherv2 = P.Gather()
        self.Mul = P.Mul()
        self.ReduceSum = P.ReduceSum(keep_dims=False)
        self.Reshape = P.Reshape()
        self.Square = P.Square()
        self.Shape = P.Shape()
        self.Tile = P.Tile()
        self.Concat = P.Concat(axis=1)
        self.Cast = P.Cast()

    def construct(self, id_hldr, wt_hldr):
        mask = self.Reshape(wt_hldr, (self.batch_size, self.field_size, 1))
        fm_id_weight = self.Gatherv2(self.fm_w, id_hldr, 0)
        wx = self.Mul(fm_id_weight, mask)
        linear_out = self.ReduceSum(wx, 1)
        fm_id_embs = self.Gatherv2(self.embedding_table, id_hldr, 0)
        vx = self.Mul(fm_id_embs, mask)
        v1 = self.ReduceSum(vx, 1)
        v1 = self.Square(v1)
        v2 = self.Square(vx)
        v2 = self.ReduceSum(v2, 1)
        fm_out = 0.5 * self.ReduceSum(v1 - v2, 1)
        fm_out = self.Reshape(fm_out, (-1, 1))
        deep_in = self.Reshape(vx, (-1, self.field_size * self.emb_dim))
        deep_in = self.dense_layer_1(deep_in)
        deep_in = self.dense_layer_2(deep_in)
        deep_in = self.dense_layer_3(deep_in)
        deep_in = self.dense_layer_4(deep_in)
        deep_out = self.dense_layer_5(deep_in)
        out = linear_out + fm_out + deep_out
        return out, self.fm_w, self.embedding_table

class NetWithLossClass(nn.Cell):
    def __init__(self, network, l2_coef=1e-6):
        super(NetWithLossClass, self).__init__(auto_prefix=False)
        self.loss = P.SigmoidCrossEntropyWithLogits()
        self.network = network
        self.l2_coef = l2_coef
        self.Square = P.Square()
        self.ReduceMean_false = P.ReduceMean(keep_dims=False)
        self.ReduceSum_false = P.ReduceSum(keep_dims=False)

    def construct(self, batch_ids, batch_wts, label):
        predict, fm_id_weight, fm_id_embs = self.network(batch_ids, batch_wts)
        log_loss = self.loss(predict, label)
        mean_log_loss = self.ReduceMean_false(log_loss)
        l2_loss_w = self.ReduceSum_false(self.Square(fm_id_weight))
        l2_loss_v = self.ReduceSum_false(self.Square(fm_id_embs))
        l2_loss_all = self.l2_coef * (l2_loss_v + l2_loss_w) * 0.5
        loss = mean_log_loss + l2_loss_all
        return loss

class TrainStepWrap(nn.Cell):
    def __init__(self, network, lr, eps, loss_scale=1000.0):
        super(TrainStepWrap, self).__init__(auto_prefix=False)
        self.network = network
        self.network.set_train()
        self.weights = ParameterTuple(network.trainable_params())
        self.optimizer = Adam(self.weights, learning_rate=lr, eps=eps, loss_scale=loss_scale)
        self.hyper_map = C.HyperMap()
        self.grad = C.GradOperation(get_by_list=True, sens_param=True)
        self.sens = loss_scale
        self.reducer_flag = False
        self.grad_reducer = None
        parallel_mode = get_auto_parallel_context("parallel_mode")
        if parallel_mode in (ParallelMode.DATA_PARALLEL, ParallelMode.HYBRID_PARALLEL):
            self.reducer_flag = True
        if self.reducer_flag:
            mean = get_auto_parallel_context("gradients_mean")
            degree = get_group_size()
            self.grad_reducer = DistributedGradReducer(self.optimizer.parameters, mean, degree)

    def construct(self, batch_ids, batch_wts, label):
        weights = self.weights
        loss = self.network(batch_ids, batch_wts, label)
        sens = P.Fill()(P.DType()(loss), P.Shape()(loss), self.sens) #
        grads = self.grad(self.network, weights)(batch_ids, batch_wts, label, sens)
        if self.reducer_flag:
            grads = self.grad_reducer(grads)
        return F.depend(loss, self.optimizer(grads))

class PredictWithSigmoid(nn.Cell):
    def __init__(self, network):
        super(PredictWithSigmoid, self).__init__(auto_prefix=False)
        self.network = network
        self.sigmoid = P.Sigmoid()

    def construct(self, batch_ids, batch_wts, labels):
        logits, _, _, = self.network(batch_ids, batch_wts)
        pred_probs = self.sigmoid(logits)
        return logits, pred_probs, labels


# -- 3. official/cv/CRNN (src/crnn.py CRNNV2, src/loss.py, src/crnn_for_train.py, train.py): VGG with BatchNorm and
# 'same' pools, two BiLSTMs, P.CTCLoss on sparse labels, gradients clipped to a global norm of 10 through
# MultitypeFuncGraph/HyperMap, SGD with Nesterov momentum on cosine_decay_lr, Model.train with LossMonitor --
def _bn(channel):
    return nn.BatchNorm2d(channel, eps=1e-4, momentum=0.9, gamma_init=1, beta_init=0, moving_mean_init=0,
                          moving_var_init=1)

class Conv(nn.Cell):
    def __init__(self, in_channel, out_channel, kernel_size=3, stride=1, use_bn=False, pad_mode='same'):
        super(Conv, self).__init__()
        self.conv = nn.Conv2d(in_channel, out_channel, kernel_size=kernel_size, stride=stride,
                              padding=0, pad_mode=pad_mode, weight_init=TruncatedNormal(0.02))
        self.bn = _bn(out_channel)
        self.Relu = nn.ReLU()
        self.use_bn = use_bn
    def construct(self, x):
        out = self.conv(x)
        if self.use_bn:
            out = self.bn(out)
        out = self.Relu(out)
        return out

class VGG(nn.Cell):
    def __init__(self, is_training=True):
        super(VGG, self).__init__()
        self.conv1 = Conv(3, 64, use_bn=True)
        self.conv2 = Conv(64, 128, use_bn=True)
        self.conv3 = Conv(128, 256, use_bn=True)
        self.conv4 = Conv(256, 256, use_bn=True)
        self.conv5 = Conv(256, 512, use_bn=True)
        self.conv6 = Conv(512, 512, use_bn=True)
        self.conv7 = Conv(512, 512, kernel_size=2, pad_mode='valid', use_bn=True)
        self.maxpool2d1 = nn.MaxPool2d(kernel_size=2, stride=2, pad_mode='same')
        self.maxpool2d2 = nn.MaxPool2d(kernel_size=(2, 1), stride=(2, 1), pad_mode='same')
        self.bn1 = _bn(512)
    def construct(self, x):
        x = self.conv1(x)
        x = self.maxpool2d1(x)
        x = self.conv2(x)
        x = self.maxpool2d1(x)
        x = self.conv3(x)
        x = self.conv4(x)
        x = self.maxpool2d2(x)
        x = self.conv5(x)
        x = self.conv6(x)
        x = self.maxpool2d2(x)
        x = self.conv7(x)
        return x

class BidirectionalLSTM(nn.Cell):
    def __init__(self, nIn, nHidden, nOut, batch_size):
        super(BidirectionalLSTM, self).__init__()
        self.rnn = nn.LSTM(nIn, nHidden, bidirectional=True)
        self.embedding = nn.Dense(in_channels=nHidden * 2, out_channels=nOut)
        self.h0 = Tensor(np.zeros([1 * 2, batch_size, nHidden]).astype(np.float32))
        self.c0 = Tensor(np.zeros([1 * 2, batch_size, nHidden]).astype(np.float32))
    def construct(self, x):
        recurrent, _ = self.rnn(x, (self.h0, self.c0))
        T, b, h = P.Shape()(recurrent)
        t_rec = P.Reshape()(recurrent, (T * b, h,))
        out = self.embedding(t_rec)
        out = P.Reshape()(out, (T, b, -1,))
        return out

class CRNNV2(nn.Cell):
    def __init__(self, config):
        super(CRNNV2, self).__init__()
        self.batch_size = config.batch_size
        self.input_size = config.input_size
        self.hidden_size = config.hidden_size
        self.num_classes = config.class_num
        self.reshape = P.Reshape()
        self.transpose = P.Transpose()
        self.vgg = VGG()
        self.rnn = nn.SequentialCell([
            BidirectionalLSTM(self.input_size, self.hidden_size, self.hidden_size, self.batch_size),
            BidirectionalLSTM(self.hidden_size, self.hidden_size, self.num_classes, self.batch_size)])
    def construct(self, x):
        x = self.vgg(x)
        x = self.reshape(x, (self.batch_size, self.input_size, -1))
        x = self.transpose(x, (2, 0, 1))
        x = self.rnn(x)
        return x

def crnn(config, full_precision=False):
    model_version_map = {"V2": CRNNV2}
    net = model_version_map[config.model_version](config)
    if not full_precision:
        net = net.to_float(mstype.float16)
    return net

class CTCLoss(_Loss):
    def __init__(self, max_sequence_length, max_label_length, batch_size):
        super(CTCLoss, self).__init__()
        self.sequence_length = Parameter(Tensor(np.array([max_sequence_length] * batch_size), mstype.int32),
                                         name="sequence_length")
        labels_indices = []
        for i in range(batch_size):
            for j in range(max_label_length):
                labels_indices.append([i, j])
        self.labels_indices = Parameter(Tensor(np.array(labels_indices), mstype.int64), name="labels_indices")
        self.reshape = P.Reshape()
        self.ctc_loss = P.CTCLoss(ctc_merge_repeated=True)
    def construct(self, logit, label):
        labels_values = self.reshape(label, (-1,))
        loss, _ = self.ctc_loss(logit, self.labels_indices, labels_values, self.sequence_length)
        return loss

compute_norm = C.MultitypeFuncGraph("compute_norm")
@compute_norm.register("Tensor")
def _compute_norm(grad):
    norm = nn.Norm()
    norm = norm(F.cast(grad, mstype.float32))
    ret = F.expand_dims(F.cast(norm, mstype.float32), 0)
    return ret

grad_div = C.MultitypeFuncGraph("grad_div")
@grad_div.register("Tensor", "Tensor")
def _grad_div(val, grad):
    div = P.RealDiv()
    mul = P.Mul()
    scale = div(10.0, val)
    ret = mul(grad, scale)
    return ret

class TrainOneStepCellWithGradClip(Cell):
    def __init__(self, network, optimizer, sens=1.0):
        super(TrainOneStepCellWithGradClip, self).__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.network.add_flags(defer_inline=True)
        self.weights = optimizer.parameters
        self.optimizer = optimizer
        self.grad = C.GradOperation(get_by_list=True, sens_param=True)
        self.sens = sens
        self.reducer_flag = False
        self.grad_reducer = None
        self.hyper_map = C.HyperMap()
        self.greater = P.Greater()
        self.select = P.Select()
        self.norm = nn.Norm(keep_dims=True)
        self.dtype = P.DType()
        self.cast = P.Cast()
        self.concat = P.Concat(axis=0)
        self.ten = Tensor(np.array([10.0]).astype(np.float32))
        parallel_mode = context.get_auto_parallel_context("parallel_mode")
        if parallel_mode in (ParallelMode.DATA_PARALLEL, ParallelMode.HYBRID_PARALLEL):
            self.reducer_flag = True
        if self.reducer_flag:
            self.grad_reducer = DistributedGradReducer(optimizer.parameters)
    def construct(self, data, label):
        weights = self.weights
        loss = self.network(data, label)
        sens = P.Fill()(P.DType()(loss), P.Shape()(loss), self.sens)
        grads = self.grad(self.network, weights)(data, label, sens)
        norm = self.hyper_map(F.partial(compute_norm), grads)
        norm = self.concat(norm)
        norm = self.norm(norm)
        cond = self.greater(norm, self.cast(self.ten, self.dtype(norm)))
        clip_val = self.select(cond, norm, self.cast(self.ten, self.dtype(norm)))
        grads = self.hyper_map(F.partial(grad_div, clip_val), grads)
        if self.reducer_flag:
            grads = self.grad_reducer(grads)
        loss = F.depend(loss, self.optimizer(grads))
        return loss


class GCNConfig:
    hidden1 = 8
    dropout = 0.0
    weight_decay = 5e-4
    learning_rate = 0.01


def _graph(rng, nodes: int, features: int, classes: int):
    """A random symmetric graph with self-loops, normalised as the zoo's preprocessing does: D^-1/2 (A + I) D^-1/2."""
    a = (rng.random((nodes, nodes)) < 0.3).astype(np.float32)
    a = np.maximum(a, a.T) + np.eye(nodes, dtype=np.float32)
    d = 1.0 / np.sqrt(a.sum(1))
    adj = (a * d[:, None] * d[None, :]).astype(np.float32)
    feature = rng.standard_normal((nodes, features)).astype(np.float32)
    label = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, nodes)]
    return adj, feature, label


def test_gcn_trains_with_the_zoo_s_masked_loss_and_adam_as_torch_float64():
    """official/gnn/gcn: TrainNetWrapper returns (loss, masked accuracy) per step; losses, accuracies and both layers'
    weights after three Adam steps match torch."""
    rng = np.random.default_rng(0)
    adj, feature, label = _graph(rng, 12, 6, 3)
    mask = np.zeros(12, np.float32)
    mask[:7] = 1
    np.random.seed(0)
    gcn = GCN(GCNConfig, 6, 3)
    start = {p.name: p.asnumpy().copy() for p in gcn.trainable_params()}
    assert list(start) == ["layer0.fc.weight", "layer1.fc.weight"]
    assert gcn.layer1.activation is None and not gcn.layer1.activation_flag  # get_activation(None), as MindSpore's
    train = TrainNetWrapper(gcn, label, mask, GCNConfig)
    train.set_train()
    got = [tuple(float(v) for v in train(Tensor(adj), Tensor(feature))) for _ in range(3)]

    w = _torch_params(start)
    a, x, y, m = (torch.tensor(v, dtype=torch.float64) for v in (adj, feature, label, mask))
    adam = _ms_adam(w, GCNConfig.learning_rate)

    def forward():
        hidden = torch.relu(a @ (x @ w["layer0.fc.weight"].T))
        return a @ (hidden @ w["layer1.fc.weight"].T)

    for loss_got, acc_got in got:
        ce = -(y * torch.log_softmax(forward(), 1)).sum(1)
        loss = ((GCNConfig.weight_decay * (w["layer0.fc.weight"] ** 2).sum() / 2 + ce) * (m / m.mean())).mean()
        grads = dict(zip(w, torch.autograd.grad(loss, list(w.values()))))
        adam(grads)
        with torch.no_grad():
            acc = ((forward().argmax(1) == y.argmax(1)).double() * m / m.mean()).mean()
        assert loss_got == pytest.approx(loss.item(), rel=1e-6)
        assert acc_got == pytest.approx(acc.item(), rel=1e-6)
    _assert_params(gcn.trainable_params(), w, 1e-6)


class DeepFMConfig:
    batch_size = 4
    data_field_size = 5
    data_vocab_size = 30
    data_emb_dim = 3
    deep_layer_args = [[8, 6, 5, 4], "relu"]
    init_args = [-0.5, 0.5]
    weight_bias_init = ['uniform', 'zero']
    keep_prob = 0.9
    convert_dtype = False


def test_deepfm_train_step_wrap_with_a_loss_scaled_adam_matches_torch_float64():
    """official/recommend/DeepFM: three steps of TrainStepWrap (sens 1024 and Adam(loss_scale=1024) dividing it back
    out) and PredictWithSigmoid, against the FM + deep tower + L2 written in torch."""
    np.random.seed(1)
    ms.set_seed(1)
    net = DeepFMModel(DeepFMConfig)
    start = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    assert list(start)[:3] == ["W_l2", "V_l2", "dense_layer_1.weight"]
    train = TrainStepWrap(NetWithLossClass(net, l2_coef=1e-4), lr=5e-3, eps=1e-8, loss_scale=1024.0)
    rng = np.random.default_rng(3)
    batches = [(rng.integers(0, 30, (4, 5)).astype(np.int32), rng.random((4, 5)).astype(np.float32),
                rng.integers(0, 2, (4, 1)).astype(np.float32)) for _ in range(3)]
    losses = [float(train(Tensor(i), Tensor(wt), Tensor(lab))) for i, wt, lab in batches]
    _, probs, _ = PredictWithSigmoid(net)(*(Tensor(v) for v in batches[0]))

    w = _torch_params(start)
    adam = _ms_adam(w, 5e-3)

    def forward(ids, wts):
        ids = torch.from_numpy(ids).long()
        mask = torch.from_numpy(wts).double()[:, :, None]
        linear = (w["W_l2"][ids] * mask).sum(1)
        vx = w["V_l2"][ids] * mask
        fm = 0.5 * (vx.sum(1) ** 2 - (vx ** 2).sum(1)).sum(1, keepdim=True)
        deep = vx.reshape(4, -1)
        for k in range(1, 6):
            deep = deep @ w[f"dense_layer_{k}.weight"] + w[f"dense_layer_{k}.bias"]
            deep = torch.relu(deep) if k < 5 else deep
        return linear + fm + deep

    for (ids, wts, lab), got in zip(batches, losses):
        logits = forward(ids, wts)
        loss = TF.binary_cross_entropy_with_logits(logits, torch.from_numpy(lab).double())
        loss = loss + 1e-4 * ((w["V_l2"] ** 2).sum() + (w["W_l2"] ** 2).sum()) * 0.5
        adam(dict(zip(w, torch.autograd.grad(loss, list(w.values())))))
        assert got == pytest.approx(loss.item(), rel=1e-5)
    _assert_params(net.trainable_params(), w, 2e-6)
    np.testing.assert_allclose(probs.asnumpy(), torch.sigmoid(forward(*batches[0][:2])).detach().numpy(), rtol=1e-5)


class CRNNConfig:
    model_version = "V2"
    batch_size = 2
    input_size = 512
    hidden_size = 8
    class_num = 5
    num_step = 3
    max_text_length = 2
    learning_rate = 0.02
    momentum = 0.95
    nesterov = True
    epoch_size = 2


def _torch_crnn_train(params: dict, batches, rates, momentum: float, epochs: int):
    """CRNNV2 written with torch.nn.functional (BatchNorm on batch statistics, torch's LSTM, F.ctc_loss with the last
    class as blank), trained as TrainOneStepCellWithGradClip + SGD(nesterov) train it; returns per-sample losses per
    step and the final parameters."""
    w = _torch_params(params)

    def conv(x, i, pad):
        x = TF.conv2d(x, w[f"vgg.conv{i}.conv.weight"], padding=pad)
        x = TF.batch_norm(x, None, None, w[f"vgg.conv{i}.bn.gamma"], w[f"vgg.conv{i}.bn.beta"], training=True, eps=1e-4)
        return torch.relu(x)

    def bilstm(x, k, n_in, hidden):
        lstm = torch.nn.LSTM(n_in, hidden, bidirectional=True).double()
        rec, _ = torch.func.functional_call(lstm, {n: w[f"rnn.{k}.rnn.{n}"] for n, _ in lstm.named_parameters()}, (x,))
        t, b, h = rec.shape
        out = rec.reshape(t * b, h) @ w[f"rnn.{k}.embedding.weight"].T + w[f"rnn.{k}.embedding.bias"]
        return out.reshape(t, b, -1)

    def forward(x):
        x = TF.max_pool2d(conv(x, 1, 1), 2, 2)
        x = TF.max_pool2d(conv(x, 2, 1), 2, 2)
        x = TF.max_pool2d(conv(conv(x, 3, 1), 4, 1), (2, 1), (2, 1))
        x = TF.max_pool2d(conv(conv(x, 5, 1), 6, 1), (2, 1), (2, 1))
        x = conv(x, 7, 0)
        x = x.reshape(x.shape[0], 512, -1).permute(2, 0, 1)
        return bilstm(bilstm(x, 0, 512, 8), 1, 8, 8)

    buffers = {k: torch.zeros_like(v) for k, v in w.items()}
    losses, step = [], 0
    for _ in range(epochs):
        for image, label in batches:
            logits = forward(torch.from_numpy(image).double())
            t, b, classes = logits.shape
            loss = TF.ctc_loss(logits.log_softmax(-1), torch.from_numpy(label).long(), torch.full((b,), t), torch.full((b,), label.shape[1]),
                               blank=classes - 1, reduction="none")
            grads = [torch.zeros_like(p) if g is None else g for p, g in zip(w.values(), torch.autograd.grad(loss.sum(), list(w.values()),
                                                                                                              allow_unused=True))]
            scale = 10.0 / torch.clamp(torch.sqrt(sum((g ** 2).sum() for g in grads)), min=10.0)
            with torch.no_grad():
                for (k, p), g in zip(w.items(), grads):
                    buffers[k] = momentum * buffers[k] + g * scale
                    p -= rates[step] * (g * scale + momentum * buffers[k])
            losses.append(loss.detach().numpy())
            step += 1
    return losses, w


def test_crnn_trains_with_p_ctcloss_and_global_norm_clipping_as_torch_float64(capsys):
    """official/cv/CRNN: Model(TrainOneStepCellWithGradClip(WithLossCell(CRNNV2, CTCLoss), SGD)).train for 2 epochs of
    2 batches; LossMonitor's printed losses (the mean over the batch of P.CTCLoss's per-sample losses) and every
    parameter after the 4 steps match torch float64."""
    ms.set_seed(0)
    np.random.seed(0)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((2, 2, 3, 32, 16)).astype(np.float32)
    labels = rng.integers(0, 4, (2, 2, 2)).astype(np.int32)
    step_size = 2
    config = CRNNConfig
    lr = nn.dynamic_lr.cosine_decay_lr(0.0, config.learning_rate, config.epoch_size * step_size, step_size, config.epoch_size)
    assert lr == pytest.approx([0.02, 0.02, 0.01, 0.01])
    loss = CTCLoss(max_sequence_length=config.num_step, max_label_length=config.max_text_length, batch_size=config.batch_size)
    net = crnn(config, full_precision=True)
    opt = nn.SGD(params=net.trainable_params(), learning_rate=lr, momentum=config.momentum, nesterov=config.nesterov)
    start = {p.name: p.asnumpy().copy() for p in opt.parameters}
    net = WithLossCell(net, loss)
    net = TrainOneStepCellWithGradClip(net, opt).set_train()
    model = Model(net)
    batches = [(images[i], labels[i]) for i in range(step_size)]
    model.train(config.epoch_size, [(Tensor(x), Tensor(y)) for x, y in batches], callbacks=[LossMonitor()])
    printed = [float(v) for v in re.findall(r"loss is ([-\d.e]+)", capsys.readouterr().out)]

    reference, final = _torch_crnn_train(start, batches, lr, config.momentum, config.epoch_size)
    np.testing.assert_allclose(printed, [r.mean() for r in reference], rtol=2e-5)
    assert reference[0].max() > 4.0 and reference[-1].max() < 3.5  # the steps do learn
    _assert_params(opt.parameters, final, 2e-5)


def test_p_ctcloss_values_gradient_and_options_match_torch_ctc_loss():
    """P.CTCLoss as CRNN calls it: softmax applied inside, the last class the blank, sparse labels in any order; the
    returned gradient is d(sum of losses)/dx (what funcad's own gradient gives too, eagerly and under jit);
    preprocess_collapse_repeated merges runs of a label; ignore_longer_outputs_than_inputs zeroes a sample that cannot fit."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 4))
    # sample 0: [1, 2]; 1: [0]; 2: [2, 2, 1] (indices listed out of order); 3: [1, 1, 2, 0, 1, 2] (longer than 5 frames)
    indices = np.array([[0, 1], [0, 0], [1, 0], [2, 2], [2, 0], [2, 1]] + [[3, j] for j in range(6)], np.int64)
    values = np.array([2, 1, 0, 1, 2, 2, 1, 1, 2, 0, 1, 2], np.int32)
    lengths = np.array([5, 4, 5, 5], np.int32)
    op = P.CTCLoss(ignore_longer_outputs_than_inputs=True)
    loss, gradient = op(Tensor(x), Tensor(indices), Tensor(values), Tensor(lengths))

    xt = torch.tensor(x, requires_grad=True)
    targets = torch.tensor([[1, 2, 0], [0, 0, 0], [2, 2, 1]])
    expected = TF.ctc_loss(xt[:, :3].log_softmax(-1), targets, torch.tensor([5, 4, 5]), torch.tensor([2, 1, 3]), blank=3, reduction="none")
    (expected_grad,) = torch.autograd.grad(expected.sum(), xt)
    np.testing.assert_allclose(loss.asnumpy(), np.append(expected.detach().numpy(), 0.0), rtol=1e-12)
    np.testing.assert_allclose(gradient.asnumpy(), expected_grad.numpy(), atol=1e-12)
    assert not gradient.asnumpy()[:, 3].any()

    def total(logits):
        return op(logits, Tensor(indices), Tensor(values), Tensor(lengths))[0].sum()

    np.testing.assert_allclose(ms.grad(total)(Tensor(x)).asnumpy(), expected_grad.numpy(), atol=1e-12)
    jitted = ms.jit(lambda logits: op(logits, Tensor(indices), Tensor(values), Tensor(lengths)))(Tensor(x))
    np.testing.assert_allclose(jitted[1].asnumpy(), expected_grad.numpy(), atol=1e-12)

    collapsed = P.CTCLoss(preprocess_collapse_repeated=True)(Tensor(x[:, :3]), Tensor(indices[:6]), Tensor(values[:6]), Tensor(lengths[:3]))[0]
    merged = TF.ctc_loss(xt[:, :3].log_softmax(-1), torch.tensor([[1, 2], [0, 0], [2, 1]]), torch.tensor([5, 4, 5]), torch.tensor([2, 1, 2]),
                         blank=3, reduction="none")
    np.testing.assert_allclose(collapsed.asnumpy(), merged.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: P.CTCLoss(ctc_merge_repeated=False), NotImplementedError, "ctc_merge_repeated=False is not implemented"),
    (lambda x: P.CTCLoss()(x[0], np.array([[0, 0]]), np.array([1], np.int32), np.array([3], np.int32)), ValueError,
     r"x must be \(max_time, batch_size, num_classes\), got shape \(2, 4\)"),
    (lambda x: P.CTCLoss()(x, np.array([0, 0]), np.array([1], np.int32), np.array([3, 3], np.int32)), ValueError,
     r"labels_indices must be \(L, 2\) and labels_values \(L,\), got shapes \(2,\) and \(1,\)"),
    (lambda x: P.CTCLoss()(x, np.array([[2, 0]]), np.array([1], np.int32), np.array([3, 3], np.int32)), ValueError,
     r"name samples \[2\] outside \[0, 2\)"),
    (lambda x: P.CTCLoss()(x, np.array([[0, 0], [0, 1], [0, 2], [0, 3]]), np.array([1, 2, 1, 2], np.int32), np.array([3, 3], np.int32)),
     ValueError, "a target longer than its input cannot be aligned"),
    (lambda x: ms.jit(lambda v: P.CTCLoss()(x, np.array([[0, 0]]), v, np.array([3, 3], np.int32)))(Tensor(np.array([1], np.int32))),
     ValueError, "must be known values, not traced"),
])
def test_p_ctcloss_refuses_what_it_cannot_compute(call, error, match):
    with pytest.raises(error, match=match):
        call(Tensor(np.zeros((3, 2, 4), np.float32)))


# -- 4. official/nlp/Transformer (src/transformer_model.py: EmbeddingLookup, EmbeddingPostprocessor, MultiheadAttention of
# BatchMatMul/Transpose/Reshape with the -10000 mask adder, SelfAttention, FeedForward, EncoderCell, TransformerEncoder;
# src/transformer_for_train.py: label-smoothed TransformerTrainingLoss, TransformerTrainOneStepCell whose @jit method
# clips each gradient by ClipByNorm(5) through MultitypeFuncGraph("Number", "Number", "Tensor") and ops.partial).
# weight_variable and normal_weight are src/weight_init.py's (Xavier-uniform and N(0, units^-0.5) numpy draws) --
def _average_units(shape):
    if not shape:
        return 1.
    if len(shape) == 1:
        return float(shape[0])
    if len(shape) == 2:
        return float(shape[0] + shape[1]) / 2.
    raise RuntimeError("not support shape.")


def weight_variable(shape):
    scale_shape = shape
    avg_units = _average_units(scale_shape)
    scale = 1.0 / max(1., avg_units)
    limit = math.sqrt(3.0 * scale)
    values = np.random.uniform(-limit, limit, shape).astype(np.float32)
    return Tensor(values)


def normal_weight(shape, num_units):
    norm = np.random.normal(0.0, num_units**-0.5, shape).astype(np.float32)
    return Tensor(norm)


class EmbeddingLookup(nn.Cell):
    def __init__(self,
                 vocab_size,
                 embedding_size,
                 use_one_hot_embeddings=False,
                 initializer_range=0.02):
        super(EmbeddingLookup, self).__init__()
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.use_one_hot_embeddings = use_one_hot_embeddings
        self.embedding_table = Parameter(normal_weight([vocab_size, embedding_size], embedding_size))
        self.expand = ops.ExpandDims()
        self.shape_flat = (-1,)
        self.gather = ops.Gather()
        self.one_hot = ops.OneHot()
        self.on_value = Tensor(1.0, ms.float32)
        self.off_value = Tensor(0.0, ms.float32)
        self.array_mul = ops.MatMul()
        self.reshape = ops.Reshape()
        self.shape = ops.Shape()

    def construct(self, input_ids):
        """Get a embeddings lookup table with a fixed dictionary and size."""
        input_shape = self.shape(input_ids)

        flat_ids = self.reshape(input_ids, self.shape_flat)
        if self.use_one_hot_embeddings:
            one_hot_ids = self.one_hot(flat_ids, self.vocab_size, self.on_value, self.off_value)
            output_for_reshape = self.array_mul(one_hot_ids, self.embedding_table)
        else:
            output_for_reshape = self.gather(self.embedding_table, flat_ids, 0)

        out_shape = input_shape + (self.embedding_size,)
        output = self.reshape(output_for_reshape, out_shape)
        return output, self.embedding_table.value()


def position_encoding(length,
                      depth,
                      min_timescale=1,
                      max_timescale=1e4):
    depth = depth // 2
    positions = np.arange(length, dtype=np.float32)
    log_timescale_increment = (np.log(max_timescale / min_timescale) / (depth - 1))
    inv_timescales = min_timescale * np.exp(np.arange(depth, dtype=np.float32) * -log_timescale_increment)
    scaled_time = np.expand_dims(positions, 1) * np.expand_dims(inv_timescales, 0)
    x = np.concatenate([np.sin(scaled_time), np.cos(scaled_time)], axis=1)
    return x


class EmbeddingPostprocessor(nn.Cell):
    def __init__(self,
                 embedding_size,
                 use_one_hot_embeddings=False,
                 initializer_range=0.02,
                 max_position_embeddings=128,
                 dropout_prob=0.1):
        super(EmbeddingPostprocessor, self).__init__()
        self.scores_mul = Tensor([math.sqrt(float(embedding_size))], dtype=ms.float32)
        self.multiply = ops.Mul()
        self.add = ops.Add()
        self.dropout = nn.Dropout(p=dropout_prob)
        self.use_dropout = dropout_prob > 0
        self.expand_dims = ops.ExpandDims()
        self.position_embedding_table = Tensor(position_encoding(max_position_embeddings, embedding_size),
                                               ms.float32)
        self.shape = ops.Shape()

    def construct(self, word_embeddings):
        """Postprocessors apply positional embeddings to word embeddings."""
        input_shape = self.shape(word_embeddings)
        input_len = input_shape[1]

        output = self.multiply(word_embeddings, self.scores_mul)

        # add position embeddings
        position_embeddings = self.position_embedding_table[0:input_len:1, ::]
        position_embeddings = self.expand_dims(position_embeddings, 0)
        output = self.add(output, position_embeddings)

        if self.use_dropout:
            output = self.dropout(output)
        return output


class CastWrapper(nn.Cell):
    def __init__(self, src_type=ms.float32, dst_type=ms.float32):
        super(CastWrapper, self).__init__()
        self.cast = ops.Cast()
        self.dst_type = dst_type

    def construct(self, x):
        return self.cast(x, self.dst_type)


class LayerPreprocess(nn.Cell):
    def __init__(self,
                 in_channels=None):
        super(LayerPreprocess, self).__init__()
        self.layernorm = nn.LayerNorm((in_channels,))
        self.cast = ops.Cast()
        self.get_dtype = ops.DType()

    def construct(self, input_tensor):
        output = self.cast(input_tensor, ms.float32)
        output = self.layernorm(output)
        output = self.cast(output, self.get_dtype(input_tensor))
        return output


class LayerPostprocess(nn.Cell):
    def __init__(self,
                 dropout_prob=0.1):
        super(LayerPostprocess, self).__init__()
        self.add = ops.Add()
        self.dropout = nn.Dropout(p=dropout_prob)
        self.use_dropout = dropout_prob > 0

    def construct(self, hidden_tensor, input_tensor):
        output = hidden_tensor
        if self.use_dropout:
            output = self.dropout(output)
        output = self.add(output, input_tensor)
        return output


class MultiheadAttention(nn.Cell):
    def __init__(self,
                 batch_size,
                 from_tensor_width,
                 to_tensor_width,
                 out_tensor_width,
                 num_attention_heads=1,
                 size_per_head=512,
                 query_act=None,
                 key_act=None,
                 value_act=None,
                 out_act=None,
                 has_attention_mask=True,
                 attention_probs_dropout_prob=0.0,
                 use_one_hot_embeddings=False,
                 initializer_range=0.02,
                 do_return_2d_tensor=True,
                 compute_type=ms.float32):
        super(MultiheadAttention, self).__init__()
        self.batch_size = batch_size
        self.num_attention_heads = num_attention_heads
        self.size_per_head = size_per_head
        self.has_attention_mask = has_attention_mask
        assert has_attention_mask
        self.use_one_hot_embeddings = use_one_hot_embeddings
        self.initializer_range = initializer_range
        self.do_return_2d_tensor = do_return_2d_tensor

        self.scores_mul = Tensor([1.0 / math.sqrt(float(self.size_per_head))], dtype=compute_type)
        self.reshape = ops.Reshape()
        self.shape_from_2d = (-1, from_tensor_width)
        self.shape_to_2d = (-1, to_tensor_width)
        units = num_attention_heads * size_per_head
        self.query_layer = nn.Dense(from_tensor_width,
                                    units,
                                    activation=query_act,
                                    has_bias=False,
                                    weight_init=weight_variable([units, from_tensor_width])).to_float(compute_type)
        self.key_layer = nn.Dense(to_tensor_width,
                                  units,
                                  activation=key_act,
                                  has_bias=False,
                                  weight_init=weight_variable([units, to_tensor_width])).to_float(compute_type)
        self.value_layer = nn.Dense(to_tensor_width,
                                    units,
                                    activation=value_act,
                                    has_bias=False,
                                    weight_init=weight_variable([units, to_tensor_width])).to_float(compute_type)
        self.out_layer = nn.Dense(units,
                                  out_tensor_width,
                                  activation=out_act,
                                  has_bias=False,
                                  weight_init=weight_variable([out_tensor_width, units])).to_float(compute_type)

        self.matmul_trans_b = ops.BatchMatMul(transpose_b=True)
        self.multiply = ops.Mul()
        self.transpose = ops.Transpose()
        self.trans_shape = (0, 2, 1, 3)
        self.trans_shape_relative = (2, 0, 1, 3)
        self.trans_shape_position = (1, 2, 0, 3)
        self.multiply_data = Tensor([-10000.0,], dtype=compute_type)
        self.batch_num = batch_size * num_attention_heads
        self.matmul = ops.BatchMatMul()

        self.softmax = nn.Softmax()
        self.dropout = nn.Dropout(p=attention_probs_dropout_prob)
        self.use_dropout = attention_probs_dropout_prob > 0

        if self.has_attention_mask:
            self.expand_dims = ops.ExpandDims()
            self.sub = ops.Sub()
            self.add = ops.Add()
            self.cast = ops.Cast()
            self.get_dtype = ops.DType()

        self.cast_compute_type = CastWrapper(dst_type=compute_type)
        self.softmax_cast = ops.Cast()

    def construct(self, from_tensor, to_tensor, seq_length, enc_seq_length, attention_mask=None):
        """Apply multihead attention."""
        from_seq_length = seq_length
        to_seq_length = enc_seq_length
        shape_from = (self.batch_size, from_seq_length, self.num_attention_heads, self.size_per_head)
        shape_to = (self.batch_size, to_seq_length, self.num_attention_heads, self.size_per_head)
        if self.do_return_2d_tensor:
            shape_return = (self.batch_size * from_seq_length, self.num_attention_heads * self.size_per_head)
            if from_seq_length == -1:
                shape_return = (-1, self.num_attention_heads * self.size_per_head)
        else:
            shape_return = (self.batch_size, from_seq_length, self.num_attention_heads * self.size_per_head)

        # reshape 2d/3d input tensors to 2d
        from_tensor_2d = self.reshape(from_tensor, self.shape_from_2d)
        to_tensor_2d = self.reshape(to_tensor, self.shape_to_2d)
        query_out = self.query_layer(from_tensor_2d)
        key_out = self.key_layer(to_tensor_2d)
        value_out = self.value_layer(to_tensor_2d)

        query_layer = self.reshape(query_out, shape_from)
        query_layer = self.transpose(query_layer, self.trans_shape)
        key_layer = self.reshape(key_out, shape_to)
        key_layer = self.transpose(key_layer, self.trans_shape)

        attention_scores = self.matmul_trans_b(query_layer, key_layer)
        attention_scores = self.multiply(attention_scores, self.scores_mul)

        if self.has_attention_mask:
            attention_mask = self.expand_dims(attention_mask, 1)
            multiply_out = self.sub(self.cast(ops.tuple_to_array((1.0,)), self.get_dtype(attention_scores)),
                                    self.cast(attention_mask, self.get_dtype(attention_scores)))
            adder = self.multiply(multiply_out, self.multiply_data)
            attention_scores = self.add(adder, attention_scores)

        attention_scores = self.softmax_cast(attention_scores, ms.float32)
        attention_probs = self.softmax(attention_scores)
        attention_probs = self.softmax_cast(attention_probs, self.get_dtype(key_layer))
        if self.use_dropout:
            attention_probs = self.dropout(attention_probs)

        value_layer = self.reshape(value_out, shape_to)
        value_layer = self.transpose(value_layer, self.trans_shape)
        context_layer = self.matmul(attention_probs, value_layer)

        context_layer = self.transpose(context_layer, self.trans_shape)
        context_layer = self.reshape(context_layer, shape_return)
        context_layer = self.out_layer(context_layer)
        return context_layer


class SelfAttention(nn.Cell):
    def __init__(self,
                 batch_size,
                 hidden_size,
                 num_attention_heads=16,
                 attention_probs_dropout_prob=0.1,
                 use_one_hot_embeddings=False,
                 initializer_range=0.02,
                 hidden_dropout_prob=0.1,
                 has_attention_mask=True,
                 is_encdec_att=False,
                 compute_type=ms.float32):
        super(SelfAttention, self).__init__()
        if hidden_size % num_attention_heads != 0:
            raise ValueError("The hidden size (%d) is not a multiple of the number "
                             "of attention heads (%d)" % (hidden_size, num_attention_heads))
        self.size_per_head = int(hidden_size / num_attention_heads)
        self.is_encdec_att = is_encdec_att

        self.attention = MultiheadAttention(
            batch_size=batch_size,
            from_tensor_width=hidden_size,
            to_tensor_width=hidden_size,
            out_tensor_width=hidden_size,
            num_attention_heads=num_attention_heads,
            size_per_head=self.size_per_head,
            attention_probs_dropout_prob=attention_probs_dropout_prob,
            use_one_hot_embeddings=use_one_hot_embeddings,
            initializer_range=initializer_range,
            has_attention_mask=has_attention_mask,
            do_return_2d_tensor=True,
            compute_type=compute_type)

        self.preprocess = LayerPreprocess(in_channels=hidden_size)
        self.postprocess = LayerPostprocess(dropout_prob=hidden_dropout_prob)

        self.reshape = ops.Reshape()
        self.shape = (-1, hidden_size)

    def construct(self, input_tensor, memory_tensor, attention_mask, seq_length, enc_seq_length):
        """Apply self-attention."""
        input_tensor = self.reshape(input_tensor, self.shape)
        memory_tensor = self.reshape(memory_tensor, self.shape)

        output = self.preprocess(input_tensor)

        if not self.is_encdec_att:
            memory_tensor = output

        attention_output = self.attention(output, memory_tensor, seq_length, enc_seq_length, attention_mask)
        output = self.postprocess(attention_output, input_tensor)
        return output


class FeedForward(nn.Cell):
    def __init__(self,
                 in_channels,
                 hidden_size,
                 out_channels,
                 hidden_act="relu",
                 initializer_range=0.02,
                 hidden_dropout_prob=0.1,
                 compute_type=ms.float32):
        super(FeedForward, self).__init__()

        self.conv1 = nn.Dense(in_channels,
                              hidden_size,
                              activation=hidden_act,
                              weight_init=weight_variable([hidden_size, in_channels])).to_float(compute_type)
        self.conv2 = nn.Dense(hidden_size,
                              out_channels,
                              weight_init=weight_variable([out_channels, hidden_size])).to_float(compute_type)

        self.preprocess = LayerPreprocess(in_channels=in_channels)
        self.postprocess = LayerPostprocess(dropout_prob=hidden_dropout_prob)

        self.reshape = ops.Reshape()
        self.shape = (-1, in_channels)
        self.dropout = nn.Dropout(p=hidden_dropout_prob)
        self.use_dropout = hidden_dropout_prob > 0

    def construct(self, input_tensor):
        input_tensor = self.reshape(input_tensor, self.shape)
        output = self.preprocess(input_tensor)
        output = self.conv1(output)
        if self.use_dropout:
            output = self.dropout(output)
        output = self.conv2(output)
        output = self.postprocess(output, input_tensor)
        return output


class EncoderCell(nn.Cell):
    def __init__(self,
                 batch_size,
                 hidden_size=1024,
                 num_attention_heads=16,
                 intermediate_size=4096,
                 attention_probs_dropout_prob=0.1,
                 use_one_hot_embeddings=False,
                 initializer_range=0.02,
                 hidden_dropout_prob=0.1,
                 hidden_act="relu",
                 compute_type=ms.float32):
        super(EncoderCell, self).__init__()
        self.attention = SelfAttention(
            batch_size=batch_size,
            hidden_size=hidden_size,
            num_attention_heads=num_attention_heads,
            attention_probs_dropout_prob=attention_probs_dropout_prob,
            use_one_hot_embeddings=use_one_hot_embeddings,
            initializer_range=initializer_range,
            hidden_dropout_prob=hidden_dropout_prob,
            is_encdec_att=False,
            compute_type=compute_type)
        self.feedforward = FeedForward(
            in_channels=hidden_size,
            hidden_size=intermediate_size,
            out_channels=hidden_size,
            hidden_act=hidden_act,
            initializer_range=initializer_range,
            hidden_dropout_prob=hidden_dropout_prob,
            compute_type=compute_type)

    def construct(self, hidden_states, attention_mask, seq_length):
        # self-attention with ln, res
        attention_output = self.attention(hidden_states, hidden_states, attention_mask, seq_length, seq_length)
        # feed forward with ln, res
        output = self.feedforward(attention_output)
        return output


class TransformerEncoder(nn.Cell):
    def __init__(self,
                 batch_size,
                 hidden_size,
                 num_hidden_layers,
                 num_attention_heads=16,
                 intermediate_size=4096,
                 attention_probs_dropout_prob=0.1,
                 use_one_hot_embeddings=False,
                 initializer_range=0.02,
                 hidden_dropout_prob=0.1,
                 hidden_act="relu",
                 compute_type=ms.float32):
        super(TransformerEncoder, self).__init__()
        self.num_hidden_layers = num_hidden_layers
        self.batch_size = batch_size
        self.hidden_size = hidden_size

        layers = []
        for _ in range(num_hidden_layers):
            layer = EncoderCell(batch_size=batch_size,
                                hidden_size=hidden_size,
                                num_attention_heads=num_attention_heads,
                                intermediate_size=intermediate_size,
                                attention_probs_dropout_prob=attention_probs_dropout_prob,
                                use_one_hot_embeddings=use_one_hot_embeddings,
                                initializer_range=initializer_range,
                                hidden_dropout_prob=hidden_dropout_prob,
                                hidden_act=hidden_act,
                                compute_type=compute_type)
            layers.append(layer)
        self.layers = nn.CellList(layers)

        self.layer_preprocess = LayerPreprocess(in_channels=hidden_size)

        self.reshape = ops.Reshape()
        self.shape = (-1, hidden_size)

    def construct(self, input_tensor, attention_mask, seq_length):
        """Apply encoder."""
        out_shape = (self.batch_size, seq_length, self.hidden_size)
        prev_output = self.reshape(input_tensor, self.shape)

        for layer_module in self.layers:
            layer_output = layer_module(prev_output, attention_mask, seq_length)
            prev_output = layer_output

        prev_output = self.layer_preprocess(prev_output)
        output = self.reshape(prev_output, out_shape)
        return output


GRADIENT_CLIP_TYPE = 1
GRADIENT_CLIP_VALUE = 5.0

clip_grad = ops.MultitypeFuncGraph("clip_grad")


@clip_grad.register("Number", "Number", "Tensor")
def _clip_grad(clip_type, clip_value, grad):
    if clip_type not in (0, 1):
        return grad
    dt = ops.dtype(grad)
    if clip_type == 0:
        new_grad = ops.clip_by_value(grad, ops.cast(ops.tuple_to_array((-clip_value,)), dt),
                                     ops.cast(ops.tuple_to_array((clip_value,)), dt))
    else:
        new_grad = nn.ClipByNorm()(grad, ops.cast(ops.tuple_to_array((clip_value,)), dt))
    return new_grad


class TransformerTrainingLoss(nn.Cell):
    def __init__(self, config):
        super(TransformerTrainingLoss, self).__init__(auto_prefix=False)
        self.vocab_size = config.vocab_size
        self.onehot = ops.OneHot()
        self.on_value = Tensor(float(1 - config.label_smoothing), ms.float32)
        self.off_value = Tensor(config.label_smoothing / float(self.vocab_size - 1), ms.float32)
        self.reduce_sum = ops.ReduceSum()
        self.reduce_mean = ops.ReduceMean()
        self.reshape = ops.Reshape()
        self.last_idx = (-1,)
        self.flatten = ops.Flatten()
        self.neg = ops.Neg()
        self.cast = ops.Cast()
        self.batch_size = config.batch_size

    def construct(self, prediction_scores, label_ids, label_weights, seq_length):
        """Defines the computation performed."""
        flat_shape = (self.batch_size * seq_length,)
        label_ids = self.reshape(label_ids, flat_shape)
        label_weights = self.cast(self.reshape(label_weights, flat_shape), ms.float32)
        one_hot_labels = self.onehot(label_ids, self.vocab_size, self.on_value, self.off_value)

        per_example_loss = self.neg(self.reduce_sum(prediction_scores * one_hot_labels, self.last_idx))
        numerator = self.reduce_sum(label_weights * per_example_loss, ())
        denominator = self.reduce_sum(label_weights, ()) + \
                      self.cast(ops.tuple_to_array((1e-5,)), ms.float32)
        loss = numerator / denominator
        return loss


class TransformerTrainOneStepCell(nn.TrainOneStepCell):
    def __init__(self, network, optimizer, sens=1.0):
        super(TransformerTrainOneStepCell, self).__init__(network, optimizer, sens)

        self.cast = ops.Cast()
        self.hyper_map = ops.HyperMap()
        self.enable_tuple_broaden = True

    def set_sens(self, value):
        self.sens = value

    @jit
    def clip_grads(self, grads):
        grads = self.hyper_map(ops.partial(clip_grad, GRADIENT_CLIP_TYPE, GRADIENT_CLIP_VALUE), grads)
        return grads

    def construct(self,
                  source_eos_ids,
                  source_eos_mask,
                  target_sos_ids,
                  target_sos_mask,
                  target_eos_ids,
                  target_eos_mask,):
        """Defines the computation performed."""
        source_ids = source_eos_ids
        source_mask = source_eos_mask
        target_ids = target_sos_ids
        target_mask = target_sos_mask
        label_ids = target_eos_ids
        label_weights = target_eos_mask

        weights = self.weights
        loss = self.network(source_ids,
                            source_mask,
                            target_ids,
                            target_mask,
                            label_ids,
                            label_weights)
        grads = self.grad(self.network, weights)(source_ids,
                                                 source_mask,
                                                 target_ids,
                                                 target_mask,
                                                 label_ids,
                                                 label_weights,
                                                 self.cast(ops.tuple_to_array((self.sens,)),
                                                           ms.float32))
        grads = self.clip_grads(grads)
        # apply grad reducer on grads
        grads = self.grad_reducer(grads)
        self.optimizer(grads)
        return loss


class EncoderNetworkWithLoss(nn.Cell):
    """The test's glue in place of TransformerModel's decoder and beam search: the zoo's embedding, encoder and loss,
    the embedding table projecting back to the vocabulary (as the zoo's PredLogProbs does), taking the six inputs
    TransformerTrainOneStepCell passes."""

    def __init__(self, config):
        super().__init__(auto_prefix=False)
        self.embedding_lookup = EmbeddingLookup(config.vocab_size, config.hidden_size)
        self.embedding_postprocessor = EmbeddingPostprocessor(config.hidden_size, max_position_embeddings=config.max_position_embeddings,
                                                              dropout_prob=config.hidden_dropout_prob)
        self.encoder = TransformerEncoder(config.batch_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
                                          config.intermediate_size, config.attention_probs_dropout_prob,
                                          hidden_dropout_prob=config.hidden_dropout_prob)
        self.loss = TransformerTrainingLoss(config)
        self.hidden_size = config.hidden_size

    def construct(self, source_ids, source_mask, target_ids, target_mask, label_ids, label_weights):
        seq_length = source_ids.shape[1]
        embedded, table = self.embedding_lookup(source_ids)
        mask = ops.tile(ops.expand_dims(ops.cast(source_mask, ms.float32), 1), (1, seq_length, 1))
        hidden = self.encoder(self.embedding_postprocessor(embedded), mask, seq_length)
        logits = ops.matmul(ops.reshape(hidden, (-1, self.hidden_size)), table.T)
        return self.loss(ops.log_softmax(logits, -1), label_ids, label_weights, seq_length)


class TransformerConfig:
    batch_size = 2
    vocab_size = 11
    hidden_size = 8
    num_hidden_layers = 2
    num_attention_heads = 2
    intermediate_size = 16
    hidden_dropout_prob = 0.0
    attention_probs_dropout_prob = 0.0
    max_position_embeddings = 16
    label_smoothing = 0.1


def _torch_transformer_train(params: dict, batches, rates, sens: float, cfg):
    """The encoder, loss, per-tensor clipping and MindSpore's Adam in torch float64; returns the losses, the final
    parameters and, per step and tensor, whether clipping changed the gradient."""
    w = _torch_params(params)
    adam_m = {k: torch.zeros_like(p) for k, p in w.items()}
    adam_v = {k: torch.zeros_like(p) for k, p in w.items()}
    hidden, heads, vocab = cfg.hidden_size, cfg.num_attention_heads, cfg.vocab_size
    size = hidden // heads
    positions = torch.from_numpy(position_encoding(cfg.max_position_embeddings, hidden)).double()

    def layer_norm(x, prefix):
        return TF.layer_norm(x, (hidden,), w[prefix + ".gamma"], w[prefix + ".beta"], eps=1e-7)

    losses, clipped = [], []
    for t, (src, smask, lab, weights) in enumerate(batches, 1):
        b, s = src.shape
        x = (w["embedding_table"][torch.from_numpy(src).long()] * math.sqrt(hidden) + positions[:s]).reshape(-1, hidden)
        adder = (1.0 - torch.from_numpy(smask).double())[:, None, None, :] * -10000.0
        for i in range(cfg.num_hidden_layers):
            a = f"layers.{i}.attention."
            y = layer_norm(x, a + "preprocess.layernorm")
            q, k, v = ((y @ w[a + f"attention.{n}_layer.weight"].T).reshape(b, s, heads, size).permute(0, 2, 1, 3) for n in ("query", "key", "value"))
            probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(size) + adder, -1)
            x = (probs @ v).permute(0, 2, 1, 3).reshape(b * s, hidden) @ w[a + "attention.out_layer.weight"].T + x
            f = f"layers.{i}.feedforward."
            y = torch.relu(layer_norm(x, f + "preprocess.layernorm") @ w[f + "conv1.weight"].T + w[f + "conv1.bias"])
            x = y @ w[f + "conv2.weight"].T + w[f + "conv2.bias"] + x
        log_probs = torch.log_softmax(layer_norm(x, "layer_preprocess.layernorm") @ w["embedding_table"].T, -1)
        smoothed = torch.full((b * s, vocab), cfg.label_smoothing / (vocab - 1), dtype=torch.float64)
        smoothed[torch.arange(b * s), torch.from_numpy(lab).long().reshape(-1)] = 1 - cfg.label_smoothing
        label_weights = torch.from_numpy(weights).double().reshape(-1)
        loss = (label_weights * -(log_probs * smoothed).sum(-1)).sum() / (label_weights.sum() + 1e-5)
        grads = dict(zip(w, torch.autograd.grad(loss, list(w.values()))))
        with torch.no_grad():
            for key, p in w.items():
                g = grads[key] * sens
                clipped.append(g.norm().item() > 5.0)
                g = g * 5.0 / torch.clamp(g.norm(), min=5.0)
                adam_m[key] = 0.9 * adam_m[key] + 0.1 * g
                adam_v[key] = 0.999 * adam_v[key] + 0.001 * g ** 2
                p -= rates[t - 1] * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * adam_m[key] / (adam_v[key].sqrt() + 1e-8)
        losses.append(loss.item())
    return losses, w, clipped


def test_transformer_encoder_trains_with_label_smoothing_and_per_tensor_clipping_as_torch_float64():
    """official/nlp/Transformer: three TransformerTrainOneStepCell steps (sens 16, so some gradients exceed the clip
    norm 5 and some do not) with Adam on a learning-rate list; losses and every parameter match torch."""
    np.random.seed(0)
    net = EncoderNetworkWithLoss(TransformerConfig)
    start = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    assert "layers.1.attention.attention.query_layer.weight" in start and len(start) == 27
    rates = [0.01, 0.02, 0.03]
    train = TransformerTrainOneStepCell(net, nn.Adam(net.trainable_params(), learning_rate=rates), sens=16.0)
    train.set_train()
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(3):
        mask = np.ones((2, 5), np.int32)
        mask[1, 3:] = 0
        batches.append((rng.integers(1, 11, (2, 5)).astype(np.int32), mask, rng.integers(1, 11, (2, 5)).astype(np.int32), mask.copy()))
    got = [float(train(Tensor(s), Tensor(m), Tensor(s), Tensor(m), Tensor(lab), Tensor(lw))) for s, m, lab, lw in batches]

    losses, final, clipped = _torch_transformer_train(start, batches, rates, 16.0, TransformerConfig)
    assert 0 < sum(clipped) < len(clipped)
    np.testing.assert_allclose(got, losses, rtol=2e-6)
    _assert_params(net.trainable_params(), final, 1e-6)


# -- 5. official/gnn/gat (src/gat.py, src/aggregator.py, src/utils.py): GNNFeatureTransform, AttentionHead (LeakyReLU
# attention logits plus a -1e9 adjacency bias, softmax, BatchMatMul, Squeeze/BiasAdd/ExpandDims, ELU), heads
# concatenated by P.Concat and summed by P.AddN in nn.layer.CellLists, arguments checked by _checkparam, masked
# softmax loss with L2Loss over the non-bias weights, Adam. The aggregator's @cell_attr_register (MindSpore's graph
# compiler's attribute registration) is left out; the zoo's TrainOneStepCell is renamed GATTrainOneStepCell here,
# apart from GCN's --
class GNNFeatureTransform(nn.Cell):
    def __init__(self,
                 in_channels,
                 out_channels,
                 weight_init='normal',
                 bias_init='zeros',
                 has_bias=True):
        super(GNNFeatureTransform, self).__init__()
        self.in_channels = Validator.check_positive_int(in_channels)
        self.out_channels = Validator.check_positive_int(out_channels)
        self.has_bias = Validator.check_bool(has_bias)

        if isinstance(weight_init, Tensor):
            if weight_init.ndim != 2 or weight_init.shape[0] != out_channels or \
                    weight_init.shape[1] != in_channels:
                raise ValueError("weight_init shape error")

        self.weight = Parameter(initializer(weight_init, [out_channels, in_channels]), name="weight")

        if self.has_bias:
            if isinstance(bias_init, Tensor):
                if bias_init.ndim != 1 or bias_init.shape[0] != out_channels:
                    raise ValueError("bias_init shape error")

            self.bias = Parameter(initializer(bias_init, [out_channels]), name="bias")

        self.matmul = P.MatMul(transpose_b=True)
        self.bias_add = P.BiasAdd()

    def construct(self, x):
        tensor_shape = F.shape(x)
        input_feature = F.reshape(x, (tensor_shape[0] * tensor_shape[1], tensor_shape[2]))
        output = self.matmul(input_feature, self.weight)
        if self.has_bias:
            output = self.bias_add(output, self.bias)
        output = F.reshape(output, (tensor_shape[0], tensor_shape[1], self.out_channels))
        return output


class AttentionHead(nn.Cell):
    def __init__(self,
                 in_channel,
                 out_channel,
                 in_drop_ratio=0.0,
                 coef_drop_ratio=0.0,
                 residual=False,
                 coef_activation=nn.LeakyReLU(),
                 activation=nn.ELU()):
        super(AttentionHead, self).__init__()
        self.in_channel = Validator.check_positive_int(in_channel)
        self.out_channel = Validator.check_positive_int(out_channel)
        self.in_drop_ratio = in_drop_ratio
        self.in_drop = nn.Dropout(p=in_drop_ratio)
        self.in_drop_2 = nn.Dropout(p=in_drop_ratio)
        self.feature_transform = GNNFeatureTransform(
            in_channels=self.in_channel,
            out_channels=self.out_channel,
            has_bias=False)

        self.f_1_transform = GNNFeatureTransform(
            in_channels=self.out_channel,
            out_channels=1)
        self.f_2_transform = GNNFeatureTransform(
            in_channels=self.out_channel,
            out_channels=1)
        self.softmax = nn.Softmax()

        self.coef_drop = nn.Dropout(p=coef_drop_ratio)
        self.batch_matmul = P.BatchMatMul()
        self.bias_add = P.BiasAdd()
        self.bias = Parameter(initializer('zeros', self.out_channel), name='bias')
        self.residual = Validator.check_bool(residual)
        if self.residual:
            if in_channel != out_channel:
                self.residual_transform_flag = True
                self.residual_transform = GNNFeatureTransform(
                    in_channels=self.in_channel,
                    out_channels=self.out_channel)
            else:
                self.residual_transform = None
        self.coef_activation = coef_activation
        self.activation = activation

    def construct(self, input_feature, bias_mat):
        input_feature = self.in_drop(input_feature)

        feature = self.feature_transform(input_feature)
        # self attention following the author
        f_1 = self.f_1_transform(feature)
        f_2 = self.f_2_transform(feature)
        logits = f_1 + P.Transpose()(f_2, (0, 2, 1))
        logits = self.coef_activation(logits) + bias_mat
        coefs = self.softmax(logits)

        coefs = self.coef_drop(coefs)
        feature = self.in_drop_2(feature)

        ret = self.batch_matmul(coefs, feature)
        ret = P.Squeeze(0)(ret)
        ret = self.bias_add(ret, self.bias)
        ret = P.ExpandDims()(ret, 0)
        # residual connection
        if self.residual:
            if self.residual_transform_flag:
                res = self.residual_transform(input_feature)
                ret = ret + res
            else:
                ret = ret + input_feature
        # activation
        if self.activation is not None:
            ret = self.activation(ret)
        return ret


class AttentionAggregator(nn.Cell):
    def __init__(self,
                 in_channels,
                 out_channels,
                 num_heads=1,
                 in_drop=0.0,
                 coef_drop=0.0,
                 activation=nn.ELU(),
                 residual=False,
                 output_transform='concat'):
        super(AttentionAggregator, self).__init__()
        self.num_heads = num_heads
        self.attns = []
        for _ in range(num_heads):
            self.attns.append(AttentionHead(in_channels,
                                            out_channels,
                                            in_drop_ratio=in_drop,
                                            coef_drop_ratio=coef_drop,
                                            activation=activation,
                                            residual=residual))
        self.attns = nn.layer.CellList(self.attns)
        if output_transform == 'concat':
            self.out_trans = P.Concat(-1)
        elif output_transform == 'sum':
            self.out_trans = P.AddN()
        else:
            raise ValueError

    def construct(self, input_data, bias_mat):
        res = ()
        for i in range(self.num_heads):
            res += (self.attns[i](input_data, bias_mat),)
        return self.out_trans(res)


class GAT(nn.Cell):
    def __init__(self,
                 ftr_dims,
                 num_class,
                 num_nodes,
                 hidden_units,
                 num_heads,
                 attn_drop=0.0,
                 ftr_drop=0.0,
                 activation=nn.ELU(),
                 residual=False):
        super(GAT, self).__init__()
        self.ftr_dims = Validator.check_positive_int(ftr_dims)
        self.num_class = Validator.check_positive_int(num_class)
        self.num_nodes = Validator.check_positive_int(num_nodes)
        self.hidden_units = hidden_units
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.ftr_drop = ftr_drop
        self.activation = activation
        self.residual = Validator.check_bool(residual)
        self.layers = []
        # first layer
        self.layers.append(AttentionAggregator(
            self.ftr_dims,
            self.hidden_units[0],
            self.num_heads[0],
            self.ftr_drop,
            self.attn_drop,
            self.activation,
            residual=False))
        # intermediate layer
        for i in range(1, len(self.hidden_units)):
            self.layers.append(AttentionAggregator(
                self.hidden_units[i-1]*self.num_heads[i-1],
                self.hidden_units[i],
                self.num_heads[i],
                self.ftr_drop,
                self.attn_drop,
                self.activation,
                residual=self.residual))
        # output layer
        self.layers.append(AttentionAggregator(
            self.hidden_units[-1]*self.num_heads[-2],
            self.num_class,
            self.num_heads[-1],
            self.ftr_drop,
            self.attn_drop,
            activation=None,
            residual=False,
            output_transform='sum'))
        self.layers = nn.layer.CellList(self.layers)

    def construct(self, input_data, bias_mat):
        for cell in self.layers:
            input_data = cell(input_data, bias_mat)
        return input_data/self.num_heads[-1]


class MaskedSoftMaxLoss(nn.Cell):
    def __init__(self, num_class, label, mask, l2_coeff, params):
        super(MaskedSoftMaxLoss, self).__init__()
        self.num_class = num_class
        self.label = label
        self.mask = mask
        self.softmax = P.SoftmaxCrossEntropyWithLogits()
        self.reduce_mean = P.ReduceMean()
        self.cast = P.Cast()
        self.l2_coeff = l2_coeff
        self.params = ParameterTuple(list(param for param in params if param.name[-4:] != 'bias'))
        self.reduce_sum = P.ReduceSum()
        self.num_params = len(self.params)

    def construct(self, logits):
        """calc l2 loss"""
        l2_loss = 0
        for i in range(self.num_params):
            l2_loss = l2_loss + self.l2_coeff * P.L2Loss()(self.params[i])

        logits = P.Reshape()(logits, (-1, self.num_class))
        label = P.Reshape()(self.label, (-1, self.num_class))
        mask = P.Reshape()(self.mask, (-1,))

        logits = self.cast(logits, mstype.float32)
        loss = self.softmax(logits, label)[0]
        mask /= self.reduce_mean(mask)
        loss *= mask
        loss = self.reduce_mean(loss)
        l2_loss = P.Cast()(l2_loss, mstype.float32)
        return loss+l2_loss


class MaskedAccuracy(nn.Cell):
    def __init__(self, num_class, label, mask):
        super(MaskedAccuracy, self).__init__()
        self.argmax = P.Argmax(axis=1)
        self.cast = P.Cast()
        self.reduce_mean = P.ReduceMean()
        self.equal = P.Equal()
        self.num_class = num_class
        self.label = Tensor(label, dtype=mstype.float32)
        self.mask = Tensor(mask, dtype=mstype.float32)

    def construct(self, logits):
        """Calculate accuracy"""
        logits = P.Reshape()(logits, (-1, self.num_class))
        labels = P.Reshape()(self.label, (-1, self.num_class))
        mask = P.Reshape()(self.mask, (-1,))

        labels = self.cast(labels, mstype.float32)

        correct_prediction = self.equal(self.argmax(logits), self.argmax(labels))
        accuracy_all = self.cast(correct_prediction, mstype.float32)
        mask = self.cast(mask, mstype.float32)
        mask /= self.reduce_mean(mask)
        accuracy_all *= mask
        return self.reduce_mean(accuracy_all)


class LossNetWrapper(nn.Cell):
    def __init__(self, network, num_class, label, mask, l2_coeff):
        super(LossNetWrapper, self).__init__()
        self.network = network
        label = Tensor(label, dtype=mstype.float32)
        mask = Tensor(mask, dtype=mstype.float32)
        params = list(param for param in self.network.trainable_params() if param.name[-4:] != 'bias')
        self.loss_func = MaskedSoftMaxLoss(num_class, label, mask, l2_coeff, params)

    def construct(self, feature, biases):
        logits = self.network(feature, biases)
        loss = self.loss_func(logits)
        return loss


class GATTrainOneStepCell(nn.Cell):
    def __init__(self, network, optimizer, sens=1.0):
        super(GATTrainOneStepCell, self).__init__(auto_prefix=True)
        self.network = network
        self.network.set_grad()
        self.network.add_flags(defer_inline=True)
        self.weights = ParameterTuple(network.trainable_params())
        self.optimizer = optimizer
        self.grad = C.GradOperation(get_by_list=True, sens_param=True)
        self.sens = sens

    def construct(self, feature, biases):
        weights = self.weights
        loss = self.network(feature, biases)
        sens = P.Fill()(P.DType()(loss), P.Shape()(loss), self.sens)
        grads = self.grad(self.network, weights)(feature, biases, sens)
        return F.depend(loss, self.optimizer(grads))


class TrainGAT(nn.Cell):
    def __init__(self, network, num_class, label, mask, learning_rate, l2_coeff):
        super(TrainGAT, self).__init__(auto_prefix=False)
        self.network = network
        loss_net = LossNetWrapper(network, num_class, label, mask, l2_coeff)
        optimizer = nn.Adam(loss_net.trainable_params(),
                            learning_rate=learning_rate)
        self.loss_train_net = GATTrainOneStepCell(loss_net, optimizer)
        self.accuracy_func = MaskedAccuracy(num_class, label, mask)

    def construct(self, feature, biases):
        loss = self.loss_train_net(feature, biases)
        accuracy = self.accuracy_func(self.network(feature, biases))
        return loss, accuracy


def _torch_gat_train(params: dict, feature, biases, label, mask, steps: int, lr: float, l2_coeff: float):
    """The two-layer GAT (2 heads of 4 units concatenated, then 1 output head), its masked loss and MindSpore's Adam
    in torch float64; returns (loss, accuracy after the update) per step and the final parameters."""
    w = _torch_params(params)
    x, bias, y, m = (torch.from_numpy(v[0]).double() for v in (feature, biases, label, mask))

    def head(inputs, prefix):
        feat = inputs @ w[prefix + "feature_transform.weight"].T
        f_1 = feat @ w[prefix + "f_1_transform.weight"].T + w[prefix + "f_1_transform.bias"]
        f_2 = feat @ w[prefix + "f_2_transform.weight"].T + w[prefix + "f_2_transform.bias"]
        return torch.softmax(TF.leaky_relu(f_1 + f_2.T, 0.2) + bias, -1) @ feat + w[prefix + "bias"]

    def forward():
        hidden = torch.cat([TF.elu(head(x, f"layers.0.attns.{i}.")) for i in range(2)], -1)
        return head(hidden, "layers.1.attns.0.")

    adam = _ms_adam(w, lr)
    out = []
    for _ in range(steps):
        ce = -(y * torch.log_softmax(forward(), -1)).sum(-1)
        loss = (ce * m / m.mean()).mean() + l2_coeff * sum((p ** 2).sum() / 2 for k, p in w.items() if not k.endswith("bias"))
        adam(dict(zip(w, torch.autograd.grad(loss, list(w.values())))))
        with torch.no_grad():
            accuracy = ((forward().argmax(-1) == y.argmax(-1)).double() * m / m.mean()).mean()
        out.append((loss.item(), accuracy.item()))
    return out, w


def test_gat_trains_with_masked_attention_as_torch_float64():
    """official/gnn/gat: TrainGAT's (loss, masked accuracy) over four steps and every parameter after them match torch;
    the nodes' attention only reaches their neighbours (the -1e9 bias), so the graph matters."""
    rng = np.random.default_rng(2)
    nodes, features, classes = 9, 5, 3
    adjacency = rng.random((nodes, nodes)) < 0.35
    adjacency = adjacency | adjacency.T | np.eye(nodes, dtype=bool)
    biases = np.where(adjacency, 0.0, -1e9).astype(np.float32)[None]
    feature = rng.standard_normal((1, nodes, features)).astype(np.float32)
    label = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, nodes)][None]
    mask = np.zeros((1, nodes), np.float32)
    mask[0, :6] = 1
    gat = GAT(features, classes, nodes, hidden_units=[4], num_heads=[2, 1])
    for p in gat.trainable_params():  # 'normal' (sigma 0.01) leaves the attention nearly uniform: wider weights
        p.set_data(Tensor(rng.standard_normal(p.shape).astype(np.float32) * 0.5))
    start = {p.name: p.asnumpy().copy() for p in gat.trainable_params()}
    assert len(start) == 18 and "layers.1.attns.0.f_2_transform.bias" in start
    train = TrainGAT(gat, classes, label, mask, 0.005, 5e-4)
    train.set_train()
    got = [tuple(float(v) for v in train(Tensor(feature), Tensor(biases))) for _ in range(4)]

    expected, final = _torch_gat_train(start, feature, biases, label, mask, 4, 0.005, 5e-4)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert any(acc > 0 for _, acc in expected)
    _assert_params(gat.trainable_params(), final, 1e-6)


def test_checkparam_checks_as_mindspore_s_validator():
    """funcad._checkparam: the checks return the value, a bool is not an int, and each error names the argument."""
    assert Validator.check_positive_int(3) == 3 and Validator.check_non_negative_int(0) == 0
    assert Validator.check_bool(False) is False and Validator.check_value_type("x", 1.5, (float, int)) == 1.5
    from funcad._checkparam import Validator as OldValidator

    assert OldValidator.check_positive_int(2, "n") == 2
    for call, error, match in [(lambda: Validator.check_positive_int(0, "num_class", "GAT"), ValueError,
                                "For 'GAT', 'num_class' must be a positive int, got 0"),
                               (lambda: Validator.check_positive_int(True), TypeError, "must be an int, got bool True"),
                               (lambda: Validator.check_non_negative_int(-1, "k"), ValueError, "'k' must be a non-negative int, got -1"),
                               (lambda: Validator.check_bool(1, "residual"), TypeError, "'residual' must be a bool, got int 1"),
                               (lambda: Validator.check_value_type("x", True, int), TypeError, r"'x' must be of type \[int\], got bool True")]:
        with pytest.raises(error, match=match):
            call()


# -- 6. official/cv/Unet (src/unet_nested/unet_model.py UNet, unet_parts.py, src/loss.py, train.py): SequentialCells of
# Conv2d/BatchNorm2d/get_activation, 'same' max pools, Conv2dTranspose up-sampling with P.Concat skips, the loss's
# F.tuple_len/F.make_range reduction axes, Model with nn.Adam(weight_decay, loss_scale=1024) and
# FixedLossScaleManager(1024, False). loss.py imports ``ops.operations as F``; here UF, apart from functional's F --
class MyLoss(Cell):
    def __init__(self, reduction='mean'):
        super(MyLoss, self).__init__()
        if reduction is None:
            reduction = 'none'

        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"reduction method for {reduction.lower()} is not supported")

        self.average = True
        self.reduce = True
        if reduction == 'sum':
            self.average = False
        if reduction == 'none':
            self.reduce = False

        self.reduce_mean = UF.ReduceMean()
        self.reduce_sum = UF.ReduceSum()
        self.mul = UF.Mul()
        self.cast = UF.Cast()

    def get_axis(self, x):
        shape = F2.shape(x)
        length = F2.tuple_len(shape)
        perm = F2.make_range(0, length)
        return perm

    def get_loss(self, x, weights=1.0):
        input_dtype = x.dtype
        x = self.cast(x, mstype.float32)
        weights = self.cast(weights, mstype.float32)
        x = self.mul(weights, x)
        if self.reduce and self.average:
            x = self.reduce_mean(x, self.get_axis(x))
        if self.reduce and not self.average:
            x = self.reduce_sum(x, self.get_axis(x))
        x = self.cast(x, input_dtype)
        return x

    def construct(self, base, target):
        raise NotImplementedError


class CrossEntropyWithLogits(MyLoss):
    def __init__(self):
        super(CrossEntropyWithLogits, self).__init__()
        self.transpose_fn = UF.Transpose()
        self.reshape_fn = UF.Reshape()
        self.softmax_cross_entropy_loss = nn.SoftmaxCrossEntropyWithLogits()
        self.cast = UF.Cast()

    def construct(self, logits, label):
        # NCHW->NHWC
        logits = self.transpose_fn(logits, (0, 2, 3, 1))
        logits = self.cast(logits, ms.float32)
        label = self.transpose_fn(label, (0, 2, 3, 1))
        _, _, _, c = UF.Shape()(label)

        loss = self.reduce_mean(
            self.softmax_cross_entropy_loss(self.reshape_fn(logits, (-1, c)), self.reshape_fn(label, (-1, c))))
        return self.get_loss(loss)


def conv_bn_relu(in_channel, out_channel, use_bn=True, kernel_size=3, stride=1, pad_mode="same", activation='relu'):
    output = []
    output.append(nn.Conv2d(in_channel, out_channel, kernel_size, stride, pad_mode=pad_mode,
                            weight_init="normal", bias_init="zeros"))
    if use_bn:
        output.append(nn.BatchNorm2d(out_channel))
    if activation:
        output.append(nn.get_activation(activation))
    return nn.SequentialCell(output)


class UnetConv2d(nn.Cell):
    def __init__(self, in_channel, out_channel, use_bn=True, num_layer=2, kernel_size=3, stride=1, padding='same'):
        super(UnetConv2d, self).__init__()
        self.num_layer = num_layer
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.in_channel = in_channel
        self.out_channel = out_channel

        convs = []
        for _ in range(num_layer):
            convs.append(conv_bn_relu(in_channel, out_channel, use_bn, kernel_size, stride, padding, "relu"))
            in_channel = out_channel

        self.convs = nn.SequentialCell(convs)

    def construct(self, inputs):
        x = self.convs(inputs)
        return x


class UnetUp(nn.Cell):
    def __init__(self, in_channel, out_channel, use_deconv, n_concat=2):
        super(UnetUp, self).__init__()
        self.conv = UnetConv2d(in_channel + (n_concat - 2) * out_channel, out_channel, False)
        self.concat = P.Concat(axis=1)
        self.use_deconv = use_deconv
        if use_deconv:
            self.up_conv = nn.Conv2dTranspose(in_channel, out_channel, kernel_size=2, stride=2, pad_mode="same",
                                              weight_init="normal", bias_init="zeros")
        else:
            self.up_conv = nn.Conv2d(in_channel, out_channel, 1, weight_init="normal", bias_init="zeros")

    def construct(self, high_feature, *low_feature):
        if self.use_deconv:
            output = self.up_conv(high_feature)
        else:
            _, _, h, w = F.shape(high_feature)
            output = P.ResizeBilinear((h * 2, w * 2))(high_feature)
            output = self.up_conv(output)
        for feature in low_feature:
            output = self.concat((output, feature))
        return self.conv(output)


class UNet(nn.Cell):
    def __init__(self, in_channel, n_class=2, feature_scale=2, use_deconv=True, use_bn=True):
        super(UNet, self).__init__()
        self.in_channel = in_channel
        self.n_class = n_class
        self.feature_scale = feature_scale
        self.use_deconv = use_deconv
        self.use_bn = use_bn

        filters = [64, 128, 256, 512, 1024]
        filters = [int(x / self.feature_scale) for x in filters]

        # Down Sample
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2, pad_mode="same")
        self.conv0 = UnetConv2d(self.in_channel, filters[0], self.use_bn)
        self.conv1 = UnetConv2d(filters[0], filters[1], self.use_bn)
        self.conv2 = UnetConv2d(filters[1], filters[2], self.use_bn)
        self.conv3 = UnetConv2d(filters[2], filters[3], self.use_bn)
        self.conv4 = UnetConv2d(filters[3], filters[4], self.use_bn)

        # Up Sample
        self.up_concat1 = UnetUp(filters[1], filters[0], self.use_deconv, 2)
        self.up_concat2 = UnetUp(filters[2], filters[1], self.use_deconv, 2)
        self.up_concat3 = UnetUp(filters[3], filters[2], self.use_deconv, 2)
        self.up_concat4 = UnetUp(filters[4], filters[3], self.use_deconv, 2)

        # Finale Convolution
        self.final = nn.Conv2d(filters[0], n_class, 1, weight_init="normal", bias_init="zeros")

    def construct(self, inputs):
        x0 = self.conv0(inputs)                   # channel = filters[0]
        x1 = self.conv1(self.maxpool(x0))        # channel = filters[1]
        x2 = self.conv2(self.maxpool(x1))        # channel = filters[2]
        x3 = self.conv3(self.maxpool(x2))        # channel = filters[3]
        x4 = self.conv4(self.maxpool(x3))        # channel = filters[4]

        up4 = self.up_concat4(x4, x3)
        up3 = self.up_concat3(up4, x2)
        up2 = self.up_concat2(up3, x1)
        up1 = self.up_concat1(up2, x0)

        final = self.final(up1)

        return final


def _torch_unet_train(params: dict, batches, lr: float, weight_decay: float):
    """UNet(feature_scale=16) in torch float64 (BatchNorm on batch statistics), the per-pixel softmax cross-entropy
    and MindSpore's Adam with ``weight_decay`` on the parameters named with neither 'gamma' nor 'beta'; returns the
    losses and the final parameters."""
    w = _torch_params(params)

    def double_conv(x, prefix, bn):
        for j in range(2):
            x = TF.conv2d(x, w[f"{prefix}.convs.{j}.0.weight"], padding=1)
            if bn:
                x = TF.batch_norm(x, None, None, w[f"{prefix}.convs.{j}.1.gamma"], w[f"{prefix}.convs.{j}.1.beta"], training=True, eps=1e-5)
            x = torch.relu(x)
        return x

    def forward(x):
        downs = [double_conv(x, "conv0", True)]
        for i in range(1, 5):
            downs.append(double_conv(TF.max_pool2d(downs[-1], 2, 2), f"conv{i}", True))
        up = downs[4]
        for k in (4, 3, 2, 1):
            up = TF.conv_transpose2d(up, w[f"up_concat{k}.up_conv.weight"], stride=2)
            up = double_conv(torch.cat([up, downs[k - 1]], 1), f"up_concat{k}.conv", False)
        return TF.conv2d(up, w["final.weight"])

    adam = _ms_adam(w, lr)
    losses = []
    for image, label in batches:
        logits = forward(torch.from_numpy(image).double())
        target = torch.from_numpy(label).double()
        loss = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
        grads = dict(zip(w, torch.autograd.grad(loss, list(w.values()))))
        decayed = {k: g + (0.0 if "gamma" in k or "beta" in k else weight_decay) * w[k].detach() for k, g in grads.items()}
        adam(decayed)
        losses.append(loss.item())
    return losses, w


def test_unet_trains_with_model_adam_weight_decay_and_a_fixed_loss_scale_as_torch_float64(capsys):
    """official/cv/Unet: Model(UNet, CrossEntropyWithLogits, Adam(weight_decay=0.05, loss_scale=1024),
    FixedLossScaleManager(1024, False)).train for 3 steps; the printed losses and every parameter match torch with the
    decay 0.05: MindSpore keeps it multiplied by loss_scale and adds it to the still-scaled gradients."""
    ms.set_seed(0)
    net = UNet(in_channel=1, n_class=2, feature_scale=16)
    start = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
    assert len(start) == 43 and start["up_concat1.up_conv.weight"].shape == (8, 4, 2, 2)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((2, 1, 16, 16)).astype(np.float32),
                np.eye(2, dtype=np.float32)[rng.integers(0, 2, (2, 16, 16))].transpose(0, 3, 1, 2).copy()) for _ in range(3)]
    criterion = CrossEntropyWithLogits()
    optimizer = nn.Adam(params=net.trainable_params(), learning_rate=0.01, weight_decay=0.05, loss_scale=1024.0)
    loss_scale_manager = FixedLossScaleManager(1024.0, False)
    model = Model(net, loss_fn=criterion, loss_scale_manager=loss_scale_manager, optimizer=optimizer)
    model.train(1, [(Tensor(x), Tensor(y)) for x, y in batches], callbacks=[LossMonitor()])
    printed = [float(v) for v in re.findall(r"loss is ([-\d.e]+)", capsys.readouterr().out)]

    losses, final = _torch_unet_train(start, batches, 0.01, 0.05)
    np.testing.assert_allclose(printed, losses, rtol=1e-5)
    _assert_params(net.trainable_params(), final, 2e-5)
    _, divided = _torch_unet_train(start, batches, 0.01, 0.05 / 1024)  # a decay divided by the scale: visibly different
    assert max(np.abs(p.asnumpy() - divided[p.name].detach().numpy()).max() for p in net.trainable_params()) > 1e-3


def test_functional_tuple_helpers_as_mindspore_s():
    """F.tuple_len and F.make_range, as UNet's loss reduces over make_range(0, tuple_len(shape)); bad arguments refused."""
    assert F2.tuple_len((2, 3, 4)) == 3
    assert F2.make_range(4) == (0, 1, 2, 3) and F2.make_range(1, 4) == (1, 2, 3) and F2.make_range(5, 0, -2) == (5, 3, 1)
    with pytest.raises(ValueError, match="make_range: delta must not be 0"):
        F2.make_range(0, 3, 0)
    with pytest.raises(TypeError, match=r"make_range: expected 1 to 3 int arguments \(start, limit, delta\), got \(\)"):
        F2.make_range()
    with pytest.raises(TypeError, match=r"got \(0, 2.5\)"):
        F2.make_range(0, 2.5)
