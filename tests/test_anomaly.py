"""dezero.detect_anomaly: the first NaN/inf in a forward output or a gradient stops the run,
naming the Function, its inputs and the user's line that created it."""
import threading

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import AnomalyError, Config, Variable, core

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0), 1/0 on purpose


def _log_of_zero():
    x = Variable(np.array([1.0, 0.0], dtype=np.float32))
    return F.log(x)  # the line the error must point at


def test_log_of_zero_raises_in_forward_naming_function_shapes_and_line():
    with dezero.detect_anomaly():
        with pytest.raises(AnomalyError) as e:
            _log_of_zero()
    msg = str(e.value)
    assert isinstance(e.value, FloatingPointError)
    assert 'Log.forward returned inf' in msg
    assert '(2,) float32' in msg
    assert 'test_anomaly.py' in msg and 'return F.log(x)' in msg
    assert 'in _log_of_zero' in msg


def _sqrt_of_zero():
    x = Variable(np.array([0.0, 4.0]))
    y = F.sqrt(x)  # finite forward, infinite gradient at 0
    return x, y


@pytest.mark.parametrize('create_graph', [False, True])
def test_sqrt_of_zero_raises_in_backward(create_graph):
    with dezero.detect_anomaly():
        x, y = _sqrt_of_zero()
        with pytest.raises(AnomalyError) as e:
            y.backward(create_graph=create_graph)
    msg = str(e.value)
    assert 'Sqrt.backward' in msg and 'inf' in msg
    assert '(2,) float64' in msg
    assert 'y = F.sqrt(x)' in msg and 'in _sqrt_of_zero' in msg
    assert core._settings.anomaly_backward is None


def test_a_clean_run_raises_nothing_and_matches_the_plain_run():
    def step():
        np.random.seed(0)
        model = dezero.models.MLP((5, 3))
        x = Variable(np.random.randn(4, 2).astype(np.float32))
        loss = F.softmax_cross_entropy(model(x), np.array([0, 1, 2, 1]))
        loss.backward()
        return loss.data, [p.grad.data for p in model.params()]

    plain = step()
    with dezero.detect_anomaly():
        checked = step()
    np.testing.assert_array_equal(plain[0], checked[0])
    for a, b in zip(plain[1], checked[1]):
        np.testing.assert_array_equal(a, b)


def test_nan_without_anomaly_mode_passes_silently():
    with np.errstate(divide='ignore'):
        y = F.log(Variable(np.array([0.0])))
    assert np.isinf(y.data).all()


def test_flag_and_switches_turn_it_on_and_off():
    plain_call = core.Function.__call__
    assert not dezero.is_anomaly_enabled() and not Config.detect_anomaly
    Config.detect_anomaly = True
    try:
        assert dezero.is_anomaly_enabled()
        assert core.Function.__call__ is not plain_call
        with pytest.raises(AnomalyError):
            _log_of_zero()
    finally:
        Config.detect_anomaly = False
    assert core.Function.__call__ is plain_call  # zero cost once off
    dezero.set_detect_anomaly(True)
    with dezero.detect_anomaly(False):
        with np.errstate(divide='ignore'):
            _log_of_zero()
    assert dezero.is_anomaly_enabled()
    dezero.set_detect_anomaly(False)
    with dezero.using_config('detect_anomaly', True):
        assert dezero.is_anomaly_enabled()
    assert not dezero.is_anomaly_enabled() and core.Function.__call__ is plain_call


def test_anomaly_mode_is_per_thread():
    seen = []

    def other():
        with np.errstate(divide='ignore'):
            seen.append(np.isinf(_log_of_zero().data).any())

    with dezero.detect_anomaly():
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [True]


def test_set_detect_anomaly_rejects_non_bools():
    with pytest.raises(TypeError, match='True or False'):
        dezero.set_detect_anomaly('yes')
