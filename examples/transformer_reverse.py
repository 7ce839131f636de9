"""Train a small Transformer encoder to reverse digit sequences.

    python examples/transformer_reverse.py [--steps 400] [--length 16] [--layers 2]

Input: random digits (N, T); target: the same digits reversed. The model is an
Embedding plus a learned position embedding, `--layers` TransformerEncoderLayers
(pre-norm, GELU) and a Linear read-out per position, trained with Adam, a
cosine learning-rate schedule with warm-up and label smoothing. It prints the
per-token and whole-sequence accuracy on 512 fresh test sequences. With the
defaults it reaches 100% on both (token accuracy is already 1.0 at step 100):
400 steps took 54 s on a busy 2-core CPU with OPENBLAS_NUM_THREADS=1.
"""
import time

import numpy as np

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import Parameter, optimizers
from dezero.cli.options import ArgumentParser, positive_float, positive_int, seed
from dezero.models import Model

VOCAB = 10


class Reverser(Model):
    """Embedding + position embedding -> encoder layers -> per-position class scores."""

    def __init__(self, length, d_model=32, nhead=4, layers=2, dropout=0.0):
        super().__init__()
        self.embed = L.Embedding(VOCAB, d_model)
        self.embed.W.data *= 0.1
        self.pos = Parameter(np.random.randn(length, d_model).astype(np.float32) * 0.1,
                             name='pos')
        self.blocks = L.LayerList([
            L.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2 * d_model,
                                      dropout=dropout, activation='gelu', norm_first=True)
            for _ in range(layers)])
        self.norm = L.LayerNorm(d_model)
        self.out = L.Linear(VOCAB, in_size=d_model)

    def forward(self, tokens):
        x = self.embed(tokens) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.out(self.norm(x))  # (N, T, VOCAB)


def batch(rng, n, length):
    x = rng.randint(0, VOCAB, size=(n, length))
    return x, x[:, ::-1].copy()


def evaluate(model, rng, length, n=512):
    x, t = batch(rng, n, length)
    with dezero.test_mode(), dezero.no_grad():
        pred = F.argmax(model(x), axis=-1)
    return float((pred == t).mean()), float((pred == t).all(axis=1).mean())


def train(steps=400, length=16, layers=2, batch_size=64, lr=3e-3, seed=0, log_every=100):
    """Train and return (token accuracy, sequence accuracy, seconds)."""
    np.random.seed(seed)
    rng = np.random.RandomState(seed)
    model = Reverser(length, layers=layers)
    opt = optimizers.Adam(alpha=lr).setup(model)
    sched = optimizers.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 0.05,
                                         warmup=min(100, steps // 10))
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, t = batch(rng, batch_size, length)
        y = model(x)
        loss = F.softmax_cross_entropy(F.reshape(y, (-1, VOCAB)), t.reshape(-1),
                                       label_smoothing=0.05)
        model.cleargrads()
        loss.backward()
        opt.update()
        sched.step()
        if log_every and step % log_every == 0:
            tok, seq = evaluate(model, np.random.RandomState(1), length, n=256)
            print(f"step {step}: loss {float(loss.data):.4f}, token accuracy {tok:.3f}, "
                  f"sequence accuracy {seq:.3f}, lr {opt.alpha:.5f}", flush=True)
    seconds = time.perf_counter() - start
    tok, seq = evaluate(model, np.random.RandomState(12345), length)
    return tok, seq, seconds


def main():
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=positive_int, default=400)
    p.add_argument('--length', type=positive_int, default=16)
    p.add_argument('--layers', type=positive_int, default=2)
    p.add_argument('--batch-size', type=positive_int, default=64)
    p.add_argument('--lr', type=positive_float, default=3e-3)
    p.add_argument('--seed', type=seed, default=0)
    args = p.parse_args()
    tok, seq, seconds = train(args.steps, args.length, args.layers, args.batch_size, args.lr,
                              args.seed)
    print(f"test token accuracy {tok:.4f}, test sequence accuracy {seq:.4f} "
          f"({args.steps} steps in {seconds:.1f} s)")


if __name__ == '__main__':
    main()
