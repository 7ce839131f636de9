"""One training step of a DCGAN on 28x28 images, dezero against PyTorch CPU.

    python benchmarks/bench_gan.py [--threads 1] [--rounds 7] [--batch 64]

The networks of DeZero's GAN example, built the same in both frameworks, float32:
- generator: Linear(100 -> 1024)-BN-ReLU, Linear(-> 128*7*7)-BN-ReLU, reshape,
  Deconv(128 -> 32, 4x4, stride 2, pad 1)-BN-ReLU, Deconv(32 -> 1, 4x4, stride 2, pad 1),
  sigmoid;
- discriminator: Conv(1 -> 32, 3x3, stride 2, pad 1)-LeakyReLU(0.2),
  Conv(-> 64, 3x3, stride 2, pad 1)-BN-LeakyReLU, Conv(-> 128, 3x3, stride 2, pad 1)-BN-
  LeakyReLU, Linear(-> 1024)-BN-LeakyReLU, Linear(-> 1), sigmoid.
One step: the discriminator on a real and a generated batch (binary cross entropy, Adam),
then the generator through the discriminator (Adam). Median seconds per step over
alternating rounds (benchmarks/_harness.py).
"""
import _harness


def _extra(p):
    p.add_argument('--batch', type=int, default=64)


args = _harness.parse_args(__doc__, _extra)

import numpy as np  # noqa: E402

import dezero.functions as F  # noqa: E402
import dezero.layers as L  # noqa: E402
from dezero import Model, optimizers  # noqa: E402

torch = _harness.pin_torch(args.threads)
B = args.batch
rng = np.random.default_rng(0)
images = rng.random((B, 1, 28, 28), dtype=np.float32)
real, fake_label = np.ones((B, 1), np.float32), np.zeros((B, 1), np.float32)


class Generator(Model):
    def __init__(self):
        super().__init__()
        self.l1, self.b1 = L.Linear(1024), L.BatchNorm()
        self.l2, self.b2 = L.Linear(128 * 7 * 7), L.BatchNorm()
        self.d1, self.b3 = L.Deconv2d(32, 4, 2, 1), L.BatchNorm()
        self.d2 = L.Deconv2d(1, 4, 2, 1)

    def forward(self, z):
        h = F.relu(self.b1(self.l1(z)))
        h = F.reshape(F.relu(self.b2(self.l2(h))), (-1, 128, 7, 7))
        return F.sigmoid(self.d2(F.relu(self.b3(self.d1(h)))))


class Discriminator(Model):
    def __init__(self):
        super().__init__()
        self.c1 = L.Conv2d(32, 3, 2, 1)
        self.c2, self.b2 = L.Conv2d(64, 3, 2, 1), L.BatchNorm()
        self.c3, self.b3 = L.Conv2d(128, 3, 2, 1), L.BatchNorm()
        self.l1, self.b4 = L.Linear(1024), L.BatchNorm()
        self.l2 = L.Linear(1)

    def forward(self, x):
        h = F.leaky_relu(self.c1(x), 0.2)
        h = F.leaky_relu(self.b2(self.c2(h)), 0.2)
        h = F.leaky_relu(self.b3(self.c3(h)), 0.2)
        h = F.leaky_relu(self.b4(self.l1(F.reshape(h, (len(h), -1)))), 0.2)
        return F.sigmoid(self.l2(h))


gen, dis = Generator(), Discriminator()
opt_g = optimizers.Adam(0.0002, 0.5).setup(gen)
opt_d = optimizers.Adam(0.0002, 0.5).setup(dis)


def dezero_step():
    fake = gen(rng.standard_normal((B, 100), dtype=np.float32))
    loss_d = F.binary_cross_entropy(dis(images), real) + \
        F.binary_cross_entropy(dis(fake.data), fake_label)
    dis.cleargrads()
    loss_d.backward()
    opt_d.update()
    loss_g = F.binary_cross_entropy(dis(fake), real)
    gen.cleargrads()
    dis.cleargrads()
    loss_g.backward()
    opt_g.update()


work = {'dezero': dezero_step}
if torch is not None:
    nn = torch.nn
    t_gen = nn.Sequential(
        nn.Linear(100, 1024), nn.BatchNorm1d(1024), nn.ReLU(),
        nn.Linear(1024, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Sigmoid())
    t_dis = nn.Sequential(
        nn.Conv2d(1, 32, 3, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 3, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 3, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 4 * 4, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),
        nn.Linear(1024, 1), nn.Sigmoid())
    t_opt_g = torch.optim.Adam(t_gen.parameters(), 0.0002, (0.5, 0.999))
    t_opt_d = torch.optim.Adam(t_dis.parameters(), 0.0002, (0.5, 0.999))
    t_images = torch.from_numpy(images)
    t_real, t_fake = torch.ones(B, 1), torch.zeros(B, 1)
    bce = nn.functional.binary_cross_entropy

    def torch_step():
        fake = t_gen(torch.randn(B, 100))
        loss_d = bce(t_dis(t_images), t_real) + bce(t_dis(fake.detach()), t_fake)
        t_opt_d.zero_grad()
        loss_d.backward()
        t_opt_d.step()
        loss_g = bce(t_dis(fake), t_real)
        t_opt_g.zero_grad()
        loss_g.backward()
        t_opt_g.step()

    work['torch'] = torch_step

medians = _harness.compare(work, rounds=args.rounds, repeat=args.repeat)
_harness.report(f'DCGAN step (generator + discriminator, Adam), batch {B} of 1x28x28, float32',
                medians, unit_scale=1e3, unit='ms', threads=args.threads)
