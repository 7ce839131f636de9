"""Learning-rate schedulers in dezero.optimizers: PyTorch's formulas, the rate they drive
(lr, or Adam's alpha), state saved with the optimizer, bad arguments."""
import math

import numpy as np
import pytest

import dezero.layers as L
import dezero.optimizers as O


def _opt(cls=O.SGD, **kw):
    model = L.Linear(2, in_size=3)
    return cls(**kw).setup(model)


def _run(sched, n):
    return [sched.step() for _ in range(n)]


CASES = [
    ('step', lambda o: O.StepLR(o, 2, 0.5), lambda e: 0.4 * 0.5 ** (e // 2)),
    ('step_default_gamma', lambda o: O.StepLR(o, step_size=3), lambda e: 0.4 * 0.1 ** (e // 3)),
    ('exponential', lambda o: O.ExponentialLR(o, 0.9), lambda e: 0.4 * 0.9 ** e),
    ('cosine', lambda o: O.CosineAnnealingLR(o, 5, eta_min=0.1),
     lambda e: 0.1 + 0.3 * (1 + math.cos(math.pi * min(e, 5) / 5)) / 2),
    ('cosine_warmup', lambda o: O.CosineAnnealingLR(o, 4, warmup=3),
     lambda e: 0.4 * (e + 1) / 4 if e < 3 else 0.2 * (1 + math.cos(math.pi * min(e - 3, 4) / 4))),
]


@pytest.mark.parametrize('name,make,formula', CASES, ids=[c[0] for c in CASES])
def test_scheduler_follows_its_formula(name, make, formula):
    opt = _opt(lr=0.4)
    sched = make(opt)
    assert sched.base_lr == 0.4
    got = _run(sched, 10)
    np.testing.assert_allclose(got, [formula(e) for e in range(1, 11)], rtol=1e-12)
    assert opt.lr == got[-1] == sched.get_last_lr()


def test_cosine_warmup_starts_low_and_ends_at_eta_min():
    opt = _opt(lr=1.0)
    sched = O.CosineAnnealingLR(opt, T_max=10, eta_min=0.01, warmup=4)
    assert opt.lr == pytest.approx(0.2)  # the warm-up's first rate at creation
    rates = _run(sched, 20)
    assert rates[:3] == pytest.approx([0.4, 0.6, 0.8]) and max(rates) == pytest.approx(1.0)
    assert rates[-1] == pytest.approx(0.01)


def test_adam_schedules_alpha_and_keeps_the_book_lr():
    opt = _opt(O.Adam, alpha=0.01)
    O.StepLR(opt, 1, 0.5).step()
    assert opt.alpha == 0.005
    opt.t = 1
    assert opt.lr == pytest.approx(0.005 * math.sqrt(1 - 0.999) / (1 - 0.9))  # bias-corrected
    with pytest.raises(AttributeError, match=r"Adam.lr is the book's bias-corrected step size.*"
                                             r"set Adam.alpha"):
        opt.lr = 0.1
    O.ExponentialLR(_opt(O.AdamW), 0.5).step()


def test_reduce_on_plateau_min_and_max():
    opt = _opt(lr=1.0)
    sched = O.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    rates = [sched.step(v) for v in [1.0, 0.5, 0.6, 0.6, 0.4, 0.45, 0.45, 0.45]]
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    opt = _opt(lr=1.0)
    sched = O.ReduceLROnPlateau(opt, mode='max', factor=0.1, patience=0, cooldown=1, min_lr=0.05)
    rates = [sched.step(v) for v in [0.5, 0.4, 0.4, 0.4, 0.4, 0.9]]
    assert rates == pytest.approx([1.0, 0.1, 0.1, 0.05, 0.05, 0.05])


@pytest.mark.parametrize('load_before_creating', [False, True])
def test_scheduler_state_saves_with_the_optimizer(tmp_path, load_before_creating):
    opt = _opt(O.MomentumSGD, lr=0.4)
    sched = O.ReduceLROnPlateau(opt, patience=1)
    cos = O.CosineAnnealingLR(opt, 10)
    for v in [1.0, 2.0, 3.0, 4.0]:
        sched.step(v)
        cos.step()
    path = opt.save_state(tmp_path / 'opt')
    fresh = O.MomentumSGD().setup(opt.target)
    if load_before_creating:
        fresh.load_state(path)
        s2, c2 = O.ReduceLROnPlateau(fresh, patience=1), O.CosineAnnealingLR(fresh, 10)
    else:
        s2, c2 = O.ReduceLROnPlateau(fresh, patience=1), O.CosineAnnealingLR(fresh, 10)
        fresh.load_state(path)
    assert (s2.best, s2.num_bad_epochs, s2.last_epoch) == (1.0, 1, 4)
    assert (c2.last_epoch, c2.base_lr) == (4, 0.4)
    assert fresh.lr == opt.lr
    assert c2.step() == cos.step()
    assert opt.state_dict()['schedulers'][1] == {'type': 'CosineAnnealingLR', 'last_epoch': 5,
                                                 'base_lr': 0.4}


def test_state_with_other_schedulers_is_refused():
    opt = _opt(lr=0.1)
    O.StepLR(opt, 2)
    sd = opt.state_dict()
    other = O.SGD().setup(opt.target)
    O.ExponentialLR(other, 0.5)
    with pytest.raises(ValueError, match=r"schedulers: saved \['StepLR'\], attached "
                                         r"\['ExponentialLR'\]"):
        other.load_state_dict(sd)
    plain = O.SGD().setup(opt.target)
    plain.load_state_dict(_opt().state_dict())  # no scheduler state: fine


BAD = [
    (lambda: O.StepLR(object(), 2), TypeError, r'StepLR: expected an Optimizer, got object'),
    (lambda: O.StepLR(_opt(O.AdaDelta), 2), TypeError, r'AdaDelta has no learning rate'),
    (lambda: O.StepLR(_opt(), 0), TypeError, r'step_size must be a positive int'),
    (lambda: O.StepLR(_opt(), 2, gamma=0), ValueError, r'gamma must be > 0'),
    (lambda: O.ExponentialLR(_opt(), '0.9'), TypeError, r'gamma must be a number'),
    (lambda: O.CosineAnnealingLR(_opt(), 0), TypeError, r'T_max must be an int >= 1'),
    (lambda: O.CosineAnnealingLR(_opt(), 5, warmup=-1), TypeError, r'warmup must be an int >= 0'),
    (lambda: O.CosineAnnealingLR(_opt(), 5, eta_min=-1), ValueError, r'eta_min must be >= 0'),
    (lambda: O.ReduceLROnPlateau(_opt(), mode='up'), ValueError, r"mode must be 'min' or 'max'"),
    (lambda: O.ReduceLROnPlateau(_opt(), factor=1.0), ValueError, r'factor must be below 1'),
    (lambda: O.ReduceLROnPlateau(_opt(), patience=-1), TypeError, r'patience must be an int'),
    (lambda: O.ReduceLROnPlateau(_opt()).step('low'), TypeError, r'metric must be a number'),
]


@pytest.mark.parametrize('call,error,message', BAD)
def test_bad_arguments_are_readable_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_corrupt_scheduler_state_is_refused_before_anything_changes():
    opt = _opt(lr=0.1)
    sched = O.StepLR(opt, 2)
    sd = opt.state_dict()
    sd['schedulers'][0]['last_epoch'] = float('nan')
    with pytest.raises(ValueError, match=r'schedulers/0/last_epoch: nan is not a finite number'):
        opt.load_state_dict(sd)
    assert sched.last_epoch == 0
