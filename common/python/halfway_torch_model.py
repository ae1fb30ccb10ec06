"""The course's encoder-decoder as a torch.nn model (kernels/layers/transformer.hpp), for the
reference scripts (chapters/03_layers/pytorch_reference.py, chapters/07_trainer/
pytorch_reference.py): nn.Transformer (batch first, ReLU, post-LN by default, final
LayerNorms) with one embedding shared by source and target, scaled by sqrt(d_model), plus
sinusoidal positions, dropout on the embedded sequences, and a separate output layer
"generator". Its parameter names are the C++ model's, so weights move between the two by
name (safetensors).
"""
import math

import numpy as np
import torch
from torch import nn

import halfway_rng as rng


def positional_encoding(length, d_model):
    """PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(...), computed in double."""
    pe = torch.zeros(length, d_model, dtype=torch.float64)
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    i = torch.arange(d_model)
    freq = torch.pow(10000.0, -(i - i % 2).to(torch.float64) / d_model)
    angle = pos * freq
    pe[:, 0::2] = torch.sin(angle[:, 0::2])
    pe[:, 1::2] = torch.cos(angle[:, 1::2])
    return pe.to(torch.float32)


class Seq2Seq(nn.Module):
    """The model of kernels/layers/transformer.hpp (same parameter names)."""

    def __init__(self, vocab=13, d_model=128, heads=4, layers=2, d_ff=2048, dropout=0.0, pre_ln=False,
                 max_length=512):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab, d_model)
        self.transformer = nn.Transformer(d_model=d_model, nhead=heads, num_encoder_layers=layers,
                                          num_decoder_layers=layers, dim_feedforward=d_ff,
                                          dropout=dropout, activation="relu", batch_first=True,
                                          norm_first=pre_ln)
        # Evaluation keeps the padded positions as the C++ model does: no nested tensors (a
        # prototype in torch 1.13 that zeroes them and warns on every call).
        self.transformer.encoder.enable_nested_tensor = False
        self.generator = nn.Linear(d_model, vocab)
        self.embedding_dropout = nn.Dropout(dropout)
        self.register_buffer("pe", positional_encoding(max_length, d_model), persistent=False)

    def embed(self, tokens):
        x = self.embedding(tokens) * math.sqrt(self.d_model) + self.pe[: tokens.shape[1]]
        return self.embedding_dropout(x)

    def forward(self, src, tgt_in, src_pad, tgt_pad):
        """Token ids [B, L] and padding masks (True: padding) to logits [B, Lt, V]."""
        lt = tgt_in.shape[1]
        causal = torch.triu(torch.ones(lt, lt, dtype=torch.bool, device=src.device), diagonal=1)  # True: hidden
        y = self.transformer(self.embed(src), self.embed(tgt_in), tgt_mask=causal,
                             src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                             memory_key_padding_mask=src_pad)
        return self.generator(y)


def init_like_course(model, seed, embedding_sd=0.0):
    """Seq2Seq::init's weights, drawn by the course's RNG: parameter k (from 1, in the order of
    named_parameters(), which is the C++ model's) uses derive_seed(seed, k); the embedding
    N(0, d^-1/2) (or embedding_sd), every other matrix Xavier-uniform +-sqrt(6 / (rows +
    cols)), LayerNorm weights 1, every bias and LayerNorm shift 0."""
    with torch.no_grad():
        for k, (name, p) in enumerate(model.named_parameters(), 1):
            s = rng.derive_seed(seed, k)
            offsets = np.arange(p.numel(), dtype=np.uint64)
            if name == "embedding.weight":
                sd = embedding_sd if embedding_sd > 0 else model.d_model ** -0.5
                v = (sd * rng.normal(s, offsets).astype(np.float64)).astype(np.float32)
            elif p.dim() == 2:
                a = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
                v = (a * (2.0 * rng.uniform(s, offsets).astype(np.float64) - 1.0)).astype(np.float32)
            else:
                ones = "norm" in name and name.endswith("weight")
                v = np.full(p.numel(), 1.0 if ones else 0.0, dtype=np.float32)
            p.copy_(torch.from_numpy(v.reshape(tuple(p.shape))))
